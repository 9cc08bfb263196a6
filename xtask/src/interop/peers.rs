//! The peers of the suite: which Debian package gives each, how to tell it works, and its
//! version for the result table.
//!
//! A peer that is missing is installed (as root: `apt-get update` once, then one
//! `apt-get install` of everything missing); a peer that is still missing or broken
//! afterwards fails the suite with the command to run by hand. Nothing is skipped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::exec::{Exec, tail};
use crate::sh::Sh;

/// One peer program.
pub(crate) struct PeerSpec {
    /// The name in the result table.
    pub(crate) name: &'static str,
    /// The program and the arguments that print its version (and prove it runs).
    probe: &'static [&'static str],
    /// What the probe's output must contain for the peer to be usable.
    must_contain: &'static str,
    /// The Debian packages that give it (with what it needs beyond their dependencies).
    packages: &'static [&'static str],
    /// The PyPI package and version that give it instead, installed with `pip install
    /// --target` into [`pypi_dir`] (never into a system Python); its probe runs with that
    /// folder as `PYTHONPATH`.
    pypi: Option<Pypi>,
}

/// A Python package from PyPI, pinned.
#[derive(Clone, Copy)]
pub(crate) struct Pypi {
    /// The name on PyPI (and the module to import).
    pub(crate) package: &'static str,
    /// The exact version installed.
    pub(crate) version: &'static str,
}

/// Python's `cryptography` package: its `pkcs7` module signs, encrypts and decrypts S/MIME.
/// The pinned release has `PKCS7EnvelopeBuilder` and `pkcs7_decrypt_smime` (the probe checks
/// both), which older releases lack.
pub(crate) const CRYPTOGRAPHY: Pypi = Pypi { package: "cryptography", version: "46.0.3" };

/// The interpreter that installs and runs PyPI peers: the one `cargo xtask` uses for its
/// other PyPI tools (it has `pip`; Debian's may not), the same for install and run so a
/// compiled module matches its interpreter.
pub(crate) const PYPI_PYTHON: &str = "python3";

/// Where a PyPI peer is installed: `target/tools/pypi/NAME-VERSION` below the workspace.
pub(crate) fn pypi_dir(root: &Path, pypi: Pypi) -> PathBuf {
    root.join("target")
        .join("tools")
        .join("pypi")
        .join(format!("{}-{}", pypi.package, pypi.version))
}

/// Debian's own interpreter: its standard library is the one under test, and Debian's
/// `python3-*` modules load only in it (another `python3` may come first on `PATH`).
pub(crate) const PYTHON: &str = "/usr/bin/python3";

/// Every peer the suite runs, in the order of the result table.
pub(crate) const PEERS: &[PeerSpec] = &[
    PeerSpec {
        name: "swaks",
        // --support proves that the TLS module (Net::SSLeay, only a Recommends of swaks)
        // loads.
        probe: &["sh", "-c", "swaks --version && swaks --support"],
        must_contain: "=== TLS supported",
        packages: &["swaks", "libnet-ssleay-perl"],
        pypi: None,
    },
    PeerSpec {
        name: "openssl",
        probe: &["openssl", "version"],
        must_contain: "OpenSSL",
        packages: &["openssl"],
        pypi: None,
    },
    PeerSpec {
        name: "gnutls-cli",
        probe: &["gnutls-cli", "--version"],
        must_contain: "gnutls-cli",
        packages: &["gnutls-bin"],
        pypi: None,
    },
    PeerSpec {
        name: "testssl",
        probe: &["testssl", "--version"],
        must_contain: "testssl",
        packages: &["testssl.sh"],
        pypi: None,
    },
    PeerSpec {
        name: "msmtp",
        probe: &["msmtp", "--version"],
        must_contain: "msmtp version",
        packages: &["msmtp"],
        pypi: None,
    },
    PeerSpec {
        name: "python3 smtplib",
        probe: &[PYTHON, "-c", "import smtplib, ssl, sys; print('Python', sys.version.split()[0])"],
        must_contain: "Python 3",
        packages: &["python3"],
        pypi: None,
    },
    PeerSpec {
        name: "python3 aiosmtpd",
        probe: &[PYTHON, "-c", "import aiosmtpd; print('aiosmtpd', aiosmtpd.__version__)"],
        must_contain: "aiosmtpd",
        packages: &["python3-aiosmtpd"],
        pypi: None,
    },
    PeerSpec {
        name: "postfix",
        probe: &["postconf", "-d", "-h", "mail_version"],
        must_contain: ".",
        packages: &["postfix"],
        pypi: None,
    },
    PeerSpec {
        name: "smtp-source",
        // Part of the postfix package; it has no version option of its own.
        probe: &["sh", "-c", "command -v smtp-source && postconf -d -h mail_version"],
        must_contain: "smtp-source",
        packages: &["postfix"],
        pypi: None,
    },
    PeerSpec {
        name: "nsd",
        // The authoritative server of the DANE and MTA-STS cases' DNSSEC-signed zone.
        probe: &["nsd", "-v"],
        must_contain: "NSD version",
        packages: &["nsd"],
        pypi: None,
    },
    PeerSpec {
        name: "ldns-signzone",
        // Signs that zone (ldns-keygen makes its key).
        probe: &["sh", "-c", "command -v ldns-keygen >/dev/null && ldns-signzone -v"],
        must_contain: "zone signer version",
        packages: &["ldnsutils"],
        pypi: None,
    },
    PeerSpec {
        name: "postgresql",
        // The shared queue's engine in the cluster group: a private primary and standby
        // (initdb, pg_ctl, pg_basebackup of the newest version Debian installed).
        probe: &[
            "sh",
            "-c",
            "\"$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)\"/postgres --version",
        ],
        must_contain: "PostgreSQL",
        packages: &["postgresql-15"],
        pypi: None,
    },
    PeerSpec {
        name: "haproxy",
        // The TCP load balancer in front of a listener with `proxy_protocol = true`.
        probe: &["haproxy", "-v"],
        must_contain: "HAProxy version",
        packages: &["haproxy"],
        pypi: None,
    },
    PeerSpec {
        name: "dovecot",
        // The mailbox server behind `[delivery] lmtp`: dovecot-core has the master, the
        // auth and the Maildir store, dovecot-lmtpd the LMTP server.
        probe: &[
            "sh",
            "-c",
            "dovecot --version && test -x /usr/lib/dovecot/lmtp && echo lmtp server found",
        ],
        must_contain: "lmtp server found",
        packages: &["dovecot-core", "dovecot-lmtpd"],
        pypi: None,
    },
    PeerSpec {
        name: "openssl cms",
        // The S/MIME peer: the same program as `openssl`, named apart so that the S/MIME
        // rows get their own table.
        probe: &["openssl", "version"],
        must_contain: "OpenSSL",
        packages: &["openssl"],
        pypi: None,
    },
    PeerSpec {
        name: "gpgsm",
        // gpgsm starts gpg-agent (keys) and dirmngr (certificate lookups); Debian's gpgsm
        // package depends on neither.
        probe: &["sh", "-c", "gpgsm --version && command -v gpg-agent && command -v dirmngr"],
        must_contain: "gpgsm (GnuPG)",
        packages: &["gpgsm", "gpg-agent", "dirmngr"],
        pypi: None,
    },
    PeerSpec {
        name: "NSS cmsutil",
        // cmsutil has no version option: the package's version is NSS's.
        probe: &[
            "sh",
            "-c",
            "command -v cmsutil && command -v certutil && command -v pk12util && \
             dpkg-query -W -f='NSS ${Version}\\n' libnss3-tools",
        ],
        must_contain: "NSS ",
        packages: &["libnss3-tools"],
        pypi: None,
    },
    PeerSpec {
        name: "s-nail",
        probe: &["s-nail", "-V"],
        must_contain: "s-nail v",
        packages: &["s-nail"],
        pypi: None,
    },
    PeerSpec {
        name: "python3 cryptography",
        probe: &[
            PYPI_PYTHON,
            "-c",
            "import cryptography, sys; from cryptography.hazmat.primitives.serialization \
             import pkcs7; pkcs7.PKCS7EnvelopeBuilder; pkcs7.pkcs7_decrypt_smime; \
             print('cryptography', cryptography.__version__, 'on Python', sys.version.split()[0])",
        ],
        // The pinned version (another one may be installed for this Python); kept equal to
        // CRYPTOGRAPHY.version by a test.
        must_contain: "cryptography 46.0.3 ",
        packages: &[],
        pypi: Some(CRYPTOGRAPHY),
    },
];

impl PeerSpec {
    /// The Debian packages that give it.
    pub(crate) fn packages(&self) -> &'static [&'static str] {
        self.packages
    }

    /// The PyPI package that gives it, if it comes from PyPI.
    pub(crate) fn pypi(&self) -> Option<Pypi> {
        self.pypi
    }
}

/// The version of every peer, by name.
pub(crate) struct Versions(Vec<(&'static str, String)>);

impl Versions {
    /// `name version`, as the result table shows a peer.
    pub(crate) fn label(&self, name: &str) -> String {
        match self.0.iter().find(|(n, _)| *n == name) {
            Some((_, version)) => format!("{name} {version}"),
            None => name.to_owned(),
        }
    }

    /// The peers and their versions, in table order.
    pub(crate) fn all(&self) -> &[(&'static str, String)] {
        &self.0
    }
}

/// Makes every peer available (installing what is missing) and returns their versions.
pub(crate) fn ensure(sh: &mut Sh, exec: &Exec) -> Result<Versions> {
    // Postfix's programs live in /usr/sbin, which a CI user's PATH may lack.
    sh.add_path(PathBuf::from("/usr/sbin"));
    let mut found: Vec<Result<String>> = PEERS.iter().map(|p| probe(sh, exec, p)).collect();
    let missing: Vec<&PeerSpec> =
        PEERS.iter().zip(&found).filter(|(_, f)| f.is_err()).map(|(p, _)| p).collect();
    if !missing.is_empty() {
        let mut packages: Vec<&str> =
            missing.iter().flat_map(|p| p.packages.iter().copied()).collect();
        packages.sort_unstable();
        packages.dedup();
        let names: Vec<&str> = missing.iter().map(|p| p.name).collect();
        println!("interop: missing peers: {}; installing {}", names.join(", "), packages.join(" "));
        if !packages.is_empty() {
            install(sh, exec, &packages)?;
        }
        for pypi in missing.iter().filter_map(|p| p.pypi) {
            pip_install(sh, exec, pypi)?;
        }
        found = PEERS.iter().map(|p| probe(sh, exec, p)).collect();
    }
    let mut versions = Vec::new();
    for (peer, found) in PEERS.iter().zip(found) {
        match found {
            Ok(version) => {
                println!("ok: {} {version}", peer.name);
                versions.push((peer.name, version));
            }
            Err(err) => {
                let how = match peer.pypi {
                    Some(pypi) => format!(
                        "{PYPI_PYTHON} -m pip install --target {} {}=={}",
                        pypi_dir(sh.root(), pypi).display(),
                        pypi.package,
                        pypi.version
                    ),
                    None => format!("apt-get install {}", peer.packages.join(" ")),
                };
                bail!("peer {} is not usable ({err:#}); install it with `{how}`", peer.name)
            }
        }
    }
    Ok(Versions(versions))
}

/// Runs the probe of `peer`; returns its version.
fn probe(sh: &Sh, exec: &Exec, peer: &PeerSpec) -> Result<String> {
    let (program, args) = peer.probe.split_first().expect("a probe names its program");
    let mut cmd = sh.cmd(program);
    cmd.args(args);
    if let Some(pypi) = peer.pypi {
        cmd.env("PYTHONPATH", pypi_dir(sh.root(), pypi));
    }
    let out = exec.run(&mut cmd, b"", Duration::from_secs(60))?;
    let text = strip_ansi(&out.text());
    if !out.status.success() || !text.contains(peer.must_contain) {
        bail!("`{}` gave exit code {}: {}", peer.probe.join(" "), out.code(), text.trim());
    }
    Ok(version_of(peer.name, &text))
}

/// The version number in a probe's output: the first word that starts with a digit and
/// holds a dot (`20201014.0`, `3.0.8`, `3.7.11`).
fn version_of(name: &str, text: &str) -> String {
    let word = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()) && w.contains('.'));
    match (name, word) {
        ("smtp-source", Some(v)) => format!("(Postfix {v})"),
        // `HAProxy version 2.6.12-1+deb12u4 2026/10/17`: the Debian revision is not
        // HAProxy's version.
        ("haproxy", Some(v)) => v.split_once('-').map_or(v, |(upstream, _)| upstream).to_owned(),
        // `NSS 2:3.87.1-1+deb12u4`: the Debian epoch and revision are not NSS's version.
        ("NSS cmsutil", Some(v)) => {
            let v = v.split_once(':').map_or(v, |(_, rest)| rest);
            format!("(NSS {})", v.split_once('-').map_or(v, |(upstream, _)| upstream))
        }
        // `s-nail v14.9.24, 2022-03-26`
        ("s-nail", None) => text
            .split(|c: char| c.is_whitespace() || c == ',')
            .find_map(|w| {
                w.strip_prefix('v').filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
            })
            .map_or_else(|| String::from("(version unknown)"), str::to_owned),
        (_, Some(v)) => v.to_owned(),
        (_, None) => String::from("(version unknown)"),
    }
}

/// Removes terminal colour sequences (testssl prints them even in `--version`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ parameters final-byte
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `apt-get update` once, then one `apt-get install` of `packages` (as root).
fn install(sh: &Sh, exec: &Exec, packages: &[&str]) -> Result<()> {
    let is_root = sh.read(sh.cmd("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0");
    if !is_root {
        bail!(
            "the interop suite needs these Debian packages and installs them only as root: \
             sudo apt-get install -y {}",
            packages.join(" ")
        );
    }
    if packages.contains(&"postfix") {
        // Without this the package asks how to configure the machine's own mail system;
        // the suite runs a private instance with its own configuration instead.
        let answer = "postfix postfix/main_mailer_type select No configuration\n";
        exec.run(&mut sh.cmd("debconf-set-selections"), answer.as_bytes(), MINUTE)?
            .expect_code(0)?;
    }
    let update = exec.run(sh.cmd("apt-get").args(["update", "-q"]), b"", APT_LIMIT)?;
    update.expect_code(0).context("apt-get update failed")?;
    let mut install = sh.cmd("apt-get");
    install
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(packages);
    let installed = exec.run(&mut install, b"", APT_LIMIT)?;
    println!("{}", tail(&installed.stdout));
    installed.expect_code(0).context("apt-get install failed")
}

/// `pip install --target` of a pinned PyPI peer into its own folder under `target/tools/`,
/// with the interpreter that later runs it.
fn pip_install(sh: &Sh, exec: &Exec, pypi: Pypi) -> Result<()> {
    let dir = pypi_dir(sh.root(), pypi);
    let mut cmd = sh.cmd(PYPI_PYTHON);
    cmd.args(["-m", "pip", "install", "--disable-pip-version-check", "--root-user-action=ignore"])
        .args(["--quiet", "--upgrade", "--target"])
        .arg(&dir)
        .arg(format!("{}=={}", pypi.package, pypi.version));
    let out = exec.run(&mut cmd, b"", APT_LIMIT)?;
    out.expect_code(0)
        .with_context(|| format!("pip install of {}=={} failed", pypi.package, pypi.version))
}

const MINUTE: Duration = Duration::from_secs(60);
/// apt-get downloads: generous, but not forever.
const APT_LIMIT: Duration = Duration::from_secs(20 * 60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_found_in_the_probes_output() {
        assert_eq!(version_of("swaks", "=== TLS supported\n"), "(version unknown)");
        assert_eq!(version_of("openssl", "OpenSSL 3.0.17 1 Jul 2025 (Library: ...)"), "3.0.17");
        assert_eq!(version_of("gnutls-cli", "gnutls-cli 3.7.9\nCopyright"), "3.7.9");
        assert_eq!(version_of("msmtp", "msmtp version 1.8.23\nPlatform"), "1.8.23");
        assert_eq!(version_of("postfix", "3.7.11\n"), "3.7.11");
        assert_eq!(
            version_of("smtp-source", "/usr/sbin/smtp-source\n3.7.11\n"),
            "(Postfix 3.7.11)"
        );
        assert_eq!(
            version_of("NSS cmsutil", "/usr/bin/cmsutil\nNSS 2:3.87.1-1+deb12u4\n"),
            "(NSS 3.87.1)"
        );
        assert_eq!(
            version_of("s-nail", "s-nail v14.9.24, 2022-03-26 (built for Linux)"),
            "14.9.24"
        );
        let pyca = PEERS.iter().find(|p| p.pypi.is_some()).expect("the PyPI peer");
        assert_eq!(pyca.must_contain, format!("cryptography {} ", CRYPTOGRAPHY.version));
        assert_eq!(version_of("gpgsm", "gpgsm (GnuPG) 2.2.40\nlibgcrypt 1.10.1"), "2.2.40");
        assert_eq!(
            version_of("haproxy", "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://"),
            "2.6.12"
        );
        assert_eq!(version_of("dovecot", "2.3.19.1 (9b53102964)\nlmtp server found\n"), "2.3.19.1");
        let testssl = "\u{1b}[1m    testssl       3.0.8 from \u{1b}[m\u{1b}[1mhttps://testssl.sh/";
        assert_eq!(version_of("testssl", &strip_ansi(testssl)), "3.0.8");
    }
}
