//! The users file: who may AUTH, with argon2id password hashes.
//!
//! One user per line, `name:` then the hash in PHC string format; blank lines and lines
//! starting with `#` are ignored:
//!
//! ```text
//! # sealpost users (sealpost user add NAME)
//! alice:$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG
//! ```
//!
//! A name is compared exactly (case-sensitively) and may hold no `:`, whitespace or
//! control character. [`Users::verify`] checks a password with argon2's own verifier
//! (constant-time comparison of the result); for an unknown user it still runs one
//! verification, against a dummy hash with the same parameters as the first entry's,
//! so the time taken does not tell which users exist.
//!
//! ```
//! use sealpost_mta::Users;
//!
//! let path = std::env::temp_dir().join(format!("sealpost-users-doc-{}", std::process::id()));
//! Users::add(&path, "alice", "correct horse")?;
//! let users = Users::load(&path)?;
//! assert!(users.verify("alice", "correct horse"));
//! assert!(!users.verify("alice", "wrong"));
//! assert!(!users.verify("mallory", "correct horse"));
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), sealpost_mta::UsersError>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use argon2::password_hash::{Output, PasswordHashString, Salt, SaltString};
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

/// What the users file holds, ready to check passwords.
pub struct Users {
    hashes: HashMap<String, PasswordHashString>,
    /// Verified against when the user is unknown; never matches anything that matters.
    dummy: PasswordHashString,
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the hashes.
        f.debug_struct("Users").field("count", &self.hashes.len()).finish_non_exhaustive()
    }
}

/// Why the users file cannot be used, or a user cannot be added.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsersError {
    /// The file cannot be read.
    #[error("cannot read the users file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A line is not `name:$argon2id$...`.
    #[error(
        "{}:{line}: {reason}; each line must be `name:$argon2id$...` \
         (add users with `sealpost user add NAME`)",
        path.display()
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The user name cannot be stored.
    #[error("the user name {name:?} {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The password cannot be used.
    #[error("the password {0}")]
    InvalidPassword(&'static str),
    /// The system's random source failed, so no salt could be made.
    #[error("cannot make a salt for the password hash")]
    Random(#[source] getrandom::Error),
    /// argon2 refused to hash (parameters, salt or output length); its error is the cause.
    #[error("cannot hash the password")]
    Hash(#[source] argon2::password_hash::Error),
    /// The file cannot be written.
    #[error("cannot write the users file {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// Checks a user name: non-empty, no `:`, whitespace or control character.
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("is empty")
    } else if name.contains(':') {
        Err("contains \":\"")
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err("contains white space or a control character")
    } else {
        Ok(())
    }
}

/// Parses one non-comment line into a name and a hash.
fn parse_line(line: &str) -> Result<(&str, PasswordHashString), String> {
    let (name, hash) = line.split_once(':').ok_or("no \":\" after the user name")?;
    check_name(name).map_err(|r| format!("the user name {r}"))?;
    let parsed = PasswordHashString::new(hash)
        .map_err(|e| format!("the hash of {name:?} is not a PHC string ({e})"))?;
    if parsed.algorithm().as_str() != "argon2id" {
        return Err(format!("the hash of {name:?} is {}, not argon2id", parsed.algorithm()));
    }
    if parsed.hash().is_none() || parsed.salt().is_none() {
        return Err(format!("the hash of {name:?} has no salt or no hash value"));
    }
    Ok((name, parsed))
}

/// The salt of the dummy hash ("sealpost-dummy!!").
const DUMMY_SALT: &str = "c2VhbHBvc3QtZHVtbXkhIQ";

/// A hash with `like`'s algorithm, version and parameters, a fixed salt and an output of
/// the same length: verifying against it costs what verifying against `like` costs.
fn dummy_like(
    like: Option<&PasswordHashString>,
) -> Result<PasswordHashString, argon2::password_hash::Error> {
    let Some(like) = like else {
        // Nobody to imitate: the default parameters, the ones `add` uses.
        let salt = SaltString::from_b64(DUMMY_SALT)?;
        let hash = Argon2::default().hash_password(b"no password", &salt)?;
        return Ok(hash.serialize());
    };
    let template = like.password_hash();
    let len = template.hash.map_or(32, |h| h.len());
    let dummy = PasswordHash {
        salt: Some(Salt::from_b64(DUMMY_SALT)?),
        hash: Some(Output::new(&vec![0x5a; len])?),
        ..template
    };
    Ok(dummy.serialize())
}

impl Users {
    /// Reads and checks the users file. Errors name the file and the line.
    pub fn load(path: &Path) -> Result<Users, UsersError> {
        let text = fs::read_to_string(path)
            .map_err(|source| UsersError::Read { path: path.to_owned(), source })?;
        let malformed = |line: usize, reason: String| UsersError::Malformed {
            path: path.to_owned(),
            line,
            reason,
        };
        let mut hashes = HashMap::new();
        let mut first = None;
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, hash) = parse_line(line).map_err(|r| malformed(index + 1, r))?;
            if hashes.contains_key(name) {
                return Err(malformed(index + 1, format!("the user {name:?} is listed twice")));
            }
            if first.is_none() {
                first = Some(hash.clone());
            }
            hashes.insert(name.to_owned(), hash);
        }
        let dummy = dummy_like(first.as_ref()).map_err(UsersError::Hash)?;
        Ok(Users { hashes, dummy })
    }

    /// The number of users.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// True when the file lists nobody.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// True when `password` is `user`'s. Takes as long for an unknown user as for a
    /// known one. CPU-heavy (argon2): call it from a blocking task.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let (hash, known) = match self.hashes.get(user) {
            Some(hash) => (hash, true),
            None => (&self.dummy, false),
        };
        let matches =
            Argon2::default().verify_password(password.as_bytes(), &hash.password_hash()).is_ok();
        known && matches
    }

    /// Adds `user` with `password`, or replaces the user's password, keeping the other
    /// lines (comments included). Creates the file if needed. The new file is written
    /// next to the old one with mode 0600, fsynced and renamed over it, so a crash leaves
    /// the old file or the new one, never a mix.
    pub fn add(path: &Path, user: &str, password: &str) -> Result<(), UsersError> {
        check_name(user)
            .map_err(|reason| UsersError::InvalidName { name: user.to_owned(), reason })?;
        if password.is_empty() {
            return Err(UsersError::InvalidPassword("is empty"));
        }
        let old = match fs::read_to_string(path) {
            Ok(text) => {
                // Refuse to rewrite a file that is already broken: say where it is.
                Users::load(path)?;
                text
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(UsersError::Read { path: path.to_owned(), source }),
        };
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(UsersError::Random)?;
        let salt = SaltString::encode_b64(&salt).map_err(UsersError::Hash)?;
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(UsersError::Hash)?;
        let entry = format!("{user}:{hash}");

        let mut out = String::with_capacity(old.len() + entry.len() + 1);
        let mut replaced = false;
        for line in old.lines() {
            let is_user = line.trim().split_once(':').is_some_and(|(name, _)| name == user);
            if is_user && !line.trim_start().starts_with('#') {
                out.push_str(&entry);
                replaced = true;
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        if !replaced {
            out.push_str(&entry);
            out.push('\n');
        }
        write_atomically(path, out.as_bytes())
            .map_err(|source| UsersError::Write { path: path.to_owned(), source })
    }
}

/// tmp + fsync + rename + fsync of the directory; the file is readable by its owner only.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| io::Error::other("not a file name"))?;
    let tmp =
        dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), crate::maildir::unique_base()));
    let result = (|| {
        let mut file = crate::fsutil::create_new(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        crate::fsutil::sync_dir(&dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("sealpost-users-{tag}-{}", crate::maildir::unique_base()))
    }

    #[test]
    fn add_load_verify_and_replace() {
        let path = temp_file("add");
        Users::add(&path, "alice", "secret one").unwrap();
        Users::add(&path, "bob@example.org", "b0b").unwrap();
        let users = Users::load(&path).unwrap();
        assert_eq!(users.len(), 2);
        assert!(users.verify("alice", "secret one"));
        assert!(!users.verify("alice", "secret two"));
        assert!(!users.verify("Alice", "secret one"), "names are case-sensitive");
        assert!(users.verify("bob@example.org", "b0b"));
        assert!(!users.verify("carol", "secret one"));
        assert!(!users.verify("carol", ""));

        Users::add(&path, "alice", "secret two").unwrap();
        let users = Users::load(&path).unwrap();
        assert_eq!(users.len(), 2);
        assert!(users.verify("alice", "secret two") && !users.verify("alice", "secret one"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("alice:$argon2id$v=19$"), "{text}");
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn comments_and_blank_lines_are_kept() {
        let path = temp_file("comments");
        fs::write(&path, "# the users\n\n").unwrap();
        Users::add(&path, "alice", "pw").unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# the users\n\nalice:$argon2id$"), "{text}");
        assert!(Users::load(&path).unwrap().verify("alice", "pw"));
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn malformed_lines_name_the_file_and_line() {
        let path = temp_file("bad");
        let cases = [
            ("# c\nalice\n", 2, "no \":\""),
            ("\n\nalice:plaintext\n", 3, "not a PHC string"),
            ("bob:$argon2i$v=19$m=16,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\n", 1, "argon2i"),
            (":$argon2id$v=19$m=16,t=2,p=1$c29tZXNhbHQ$aGFzaA\n", 1, "the user name is empty"),
        ];
        for (content, line, needle) in cases {
            fs::write(&path, content).unwrap();
            let error = Users::load(&path).unwrap_err();
            let UsersError::Malformed { line: got, .. } = &error else { panic!("{error:?}") };
            assert_eq!(*got, line, "{content:?}");
            let text = error.to_string();
            assert!(text.starts_with(&format!("{}:{line}: ", path.display())), "{text}");
            assert!(text.contains(needle) && text.contains("sealpost user add"), "{text}");
            // A broken file is never rewritten.
            assert!(Users::add(&path, "carol", "pw").is_err());
            assert_eq!(fs::read_to_string(&path).unwrap(), content);
        }
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn duplicates_bad_names_and_missing_files_are_errors() {
        let path = temp_file("dup");
        Users::add(&path, "alice", "pw").unwrap();
        let line = fs::read_to_string(&path).unwrap();
        fs::write(&path, format!("{line}{line}")).unwrap();
        let error = Users::load(&path).unwrap_err().to_string();
        assert!(error.contains(":2: the user \"alice\" is listed twice"), "{error}");
        fs::remove_file(&path).unwrap();

        for bad in ["", "a:b", "a b", "a\tb"] {
            assert!(matches!(Users::add(&path, bad, "pw"), Err(UsersError::InvalidName { .. })));
        }
        assert!(matches!(Users::add(&path, "a", ""), Err(UsersError::InvalidPassword(_))));
        assert!(!path.exists());
        let error = Users::load(&path).unwrap_err();
        assert!(matches!(error, UsersError::Read { .. }));
        assert!(error.to_string().contains(&path.display().to_string()));
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_costs() {
        let path = temp_file("dummy");
        Users::add(&path, "alice", "pw").unwrap();
        let users = Users::load(&path).unwrap();
        let real = users.hashes["alice"].password_hash();
        let dummy = users.dummy.password_hash();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.params, real.params);
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert_ne!(dummy.salt, real.salt);
        assert!(format!("{users:?}").contains("count: 1") && !format!("{users:?}").contains('$'));
        fs::write(&path, "# nobody yet\n").unwrap();
        let empty = Users::load(&path).unwrap();
        assert!(empty.is_empty() && !empty.verify("alice", "pw"));
        fs::remove_file(&path).unwrap();
    }
}
