//! Maildir naming: which directory a recipient's mail goes to, and the unique names of
//! the message files.
//!
//! # From an address to a directory
//!
//! Mail for `local@domain` goes to `maildir/<domain>/<local>/{tmp,new,cur}`, where both
//! components come from [`path_component`]:
//!
//! - The local part is taken in its *unquoted* form, so `"john"@example.org` and
//!   `john@example.org` are the same mailbox (RFC 5321 section 4.1.2 calls the quoted and
//!   unquoted forms equivalent).
//! - It is **lower-cased** (Unicode lower case). RFC 5321 lets a server treat local parts
//!   as case-sensitive, but mail for `Alice` landing somewhere else than mail for `alice`
//!   surprises everyone; most MTAs fold case, and so does this one. The domain is
//!   lower-cased too (domains are case-insensitive).
//! - Characters that are safe in a file name in any shell are kept: ASCII letters and
//!   digits, `- _ + =`, `.` except as the first character, and non-ASCII letters and
//!   digits. Every other character, and a leading `.`, is written as `%XX` for each
//!   octet of its UTF-8 form (upper-case hex). `%` itself is always escaped, so the
//!   mapping cannot collide: `a/b` becomes `a%2Fb`, `../x` becomes `%2E.%2Fx`, NUL
//!   becomes `%00`, and no result is ever `.`, `..`, hidden, or holds a `/`.
//! - The empty local part (`""@example.org`) becomes `%` alone, which no other local
//!   part can produce (elsewhere `%` is always followed by two hex digits).
//!
//! ```
//! use sealpost_mta::maildir::path_component;
//!
//! assert_eq!(path_component("Alice").as_deref(), Some("alice"));
//! assert_eq!(path_component("../x").as_deref(), Some("%2E.%2Fx"));
//! assert_eq!(path_component("a/b").as_deref(), Some("a%2Fb"));
//! assert_eq!(path_component("Jörg").as_deref(), Some("jörg"));
//! ```
//!
//! # File names
//!
//! Message files are named the way the Maildir convention asks (`time.unique.host`), in
//! the form Dovecot and Courier use: `1700000000.M123456P4242Q7R89ab...ef.mx.example,S=1234`
//! — seconds, then microseconds, process id, a per-process counter and 64 random bits,
//! then the host name (with `/`, `:` and `,` escaped as `\057`, `\072`, `\054`), then the
//! file size. The counter alone makes names unique within a process; the pid and the
//! random bits make them unique across processes, even after a pid is reused within the
//! same microsecond. Files are placed with `link()`, which never replaces an existing
//! name, so a name is never reused even if all of that failed.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The longest file name most file systems accept.
const NAME_MAX: usize = 255;

/// Maps a local part (unquoted form) or a domain to one safe path component, as the
/// [module documentation](self) describes. `None` when the result would be longer than a
/// file name may be (255 octets), which only odd non-ASCII local parts can reach.
pub fn path_component(value: &str) -> Option<String> {
    if value.is_empty() {
        return Some(String::from("%"));
    }
    let lower = value.to_lowercase();
    let mut out = String::with_capacity(lower.len());
    for (i, c) in lower.chars().enumerate() {
        let keep = match c {
            'a'..='z' | '0'..='9' | '-' | '_' | '+' | '=' => true,
            '.' => i > 0,
            c if !c.is_ascii() => c.is_alphanumeric(),
            _ => false,
        };
        if keep {
            out.push(c);
        } else {
            let mut utf8 = [0u8; 4];
            for b in c.encode_utf8(&mut utf8).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    (out.len() <= NAME_MAX).then_some(out)
}

/// The part of a unique name that does not depend on the host or the size:
/// `secs.MmicrosPpidQcounterRrandom`. Also used for spool and queue file names.
pub(crate) fn unique_base() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    // Without randomness the name is still unique within this process (counter) and on
    // this host (pid); the random bits guard against pid reuse.
    let random = getrandom::u64().unwrap_or(0);
    format!("{}.M{}P{}Q{n}R{random:016x}", now.as_secs(), now.subsec_micros(), std::process::id())
}

/// The host name as it may appear in a Maildir file name (`/`, `:` and `,` escaped).
pub(crate) fn safe_host(host: &str) -> String {
    let mut out = String::with_capacity(host.len());
    for c in host.chars() {
        match c {
            '/' => out.push_str("\\057"),
            ':' => out.push_str("\\072"),
            ',' => out.push_str("\\054"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    if out.is_empty() { String::from("localhost") } else { out }
}

/// The file name of a delivered message: `base.host,S=size`.
pub(crate) fn file_name(base: &str, safe_host: &str, size: u64) -> String {
    format!("{base}.{safe_host},S={size}")
}

/// This machine's host name, for file names: the kernel's, else `/etc/hostname`, else
/// `localhost`.
pub fn system_hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| String::from("localhost"))
}

/// Makes sure `root` is a Maildir (`tmp`, `new`, `cur`), creating what is missing. A
/// Maildir created here is made durable (its directory entries fsynced up to `base`)
/// before anything is delivered into it, so a crash cannot lose the directory of a
/// message that was acknowledged.
pub(crate) fn ensure(base: &Path, root: &Path) -> io::Result<()> {
    if root.join("new").is_dir() && root.join("tmp").is_dir() {
        return Ok(());
    }
    for sub in ["tmp", "new", "cur"] {
        crate::fsutil::create_private_dir(&root.join(sub))?;
    }
    // The new entries live in root, root's parent (the domain) and so on up to base.
    let mut dir = Some(root);
    while let Some(d) = dir {
        crate::fsutil::sync_dir(d)?;
        if d == base {
            break;
        }
        dir = d.parent().filter(|p| p.starts_with(base));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(s: &str) -> String {
        path_component(s).unwrap_or_else(|| String::from("<none>"))
    }

    #[test]
    fn plain_names_are_kept_and_lower_cased() {
        assert_eq!(map("alice"), "alice");
        assert_eq!(map("John.Smith"), "john.smith");
        assert_eq!(map("bob+tag=x"), "bob+tag=x");
        assert_eq!(map("ÉLODIE"), "élodie");
    }

    #[test]
    fn separators_and_dots_cannot_escape() {
        assert_eq!(map("../x"), "%2E.%2Fx");
        assert_eq!(map(".."), "%2E.");
        assert_eq!(map("."), "%2E");
        assert_eq!(map(".hidden"), "%2Ehidden");
        assert_eq!(map("a/b"), "a%2Fb");
        assert_eq!(map("a\\b"), "a%5Cb");
        assert_eq!(map("nul\0byte"), "nul%00byte");
        assert_eq!(map("a b\"c"), "a%20b%22c");
        assert_eq!(map("100%"), "100%25");
        assert_eq!(map(""), "%");
        // Non-ASCII that is not a letter or digit is escaped octet by octet.
        assert_eq!(map("a\u{2215}b"), "a%E2%88%95b");
        for s in ["../x", "a/b", ".", "..", "/", "\0", "", "~root", "a b"] {
            let c = map(s);
            assert!(!c.contains('/') && !c.contains('\0') && !c.starts_with('.'), "{s:?}: {c}");
            assert!(c != "." && c != "..");
        }
    }

    #[test]
    fn quoted_local_parts_map_by_value() {
        use sealpost_codec::Mailbox;
        let quoted: Mailbox<'_> = "\"a/b\"@example.org".parse().unwrap();
        assert_eq!(map(&quoted.local_part().value()), "a%2Fb");
        let quoted: Mailbox<'_> = "\"../etc\"@example.org".parse().unwrap();
        assert_eq!(map(&quoted.local_part().value()), "%2E.%2Fetc");
        let same: Mailbox<'_> = "\"john\"@example.org".parse().unwrap();
        assert_eq!(map(&same.local_part().value()), "john");
        let empty: Mailbox<'_> = "\"\"@example.org".parse().unwrap();
        assert_eq!(map(&empty.local_part().value()), "%");
    }

    #[test]
    fn distinct_values_never_collide_after_case_folding() {
        let values = ["a/b", "a%2Fb", "A%2Eb", "%", "", "%25", ".x", "%2Ex", "a.b", "a b"];
        let mapped: std::collections::HashSet<_> = values.iter().map(|v| map(v)).collect();
        assert_eq!(mapped.len(), values.len());
    }

    #[test]
    fn over_long_results_are_refused() {
        assert!(path_component(&"\u{2215}".repeat(30)).is_none());
        assert!(path_component(&"a".repeat(64)).is_some());
    }

    #[test]
    fn unique_names_differ_and_hosts_are_escaped() {
        let a = unique_base();
        let b = unique_base();
        assert_ne!(a, b);
        assert!(a.contains(&format!("P{}Q", std::process::id())), "{a}");
        assert_eq!(safe_host("mx/a:b,c"), "mx\\057a\\072b\\054c");
        assert_eq!(safe_host(""), "localhost");
        assert_eq!(file_name("1.M2P3Q4R5", "mx", 42), "1.M2P3Q4R5.mx,S=42");
    }
}
