//! Checking the test PKI with the `openssl verify` command-line program: every good
//! certificate must verify, every bad one must fail for exactly the reason it was made for.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::plan::{Check, Expect, SPECS, Signer, Spec};
use crate::sh::{Sh, display};

/// The `openssl verify` command of `check` for `spec`, to run in the PKI folder.
pub(crate) fn command(sh: &Sh, spec: &Spec, check: &Check) -> Command {
    let mut cmd = sh.cmd("openssl");
    cmd.args(["verify", "-CAfile", check.ca_file]);
    if spec.signer == Signer::Intermediate {
        cmd.args(["-untrusted", "intermediate-ca.pem"]);
    }
    cmd.args(check.options);
    if let Some(at) = check.at {
        let when = rcgen::date_time_ymd(at.0, at.1, at.2);
        cmd.arg("-attime").arg(when.unix_timestamp().to_string());
    }
    cmd.arg(format!("{}.pem", spec.name));
    cmd
}

/// How the README shows the command (without the environment `Sh` adds).
pub(crate) fn command_line(sh: &Sh, spec: &Spec, check: &Check) -> String {
    display(&command(sh, spec, check))
}

/// Runs every check of every certificate in `dir`; the error lists all that went wrong.
pub(crate) fn run_all(sh: &Sh, dir: &Path) -> Result<usize> {
    let mut failures = Vec::new();
    let mut count = 0;
    for spec in SPECS {
        for check in spec.checks {
            count += 1;
            let mut cmd = command(sh, spec, check);
            let line = display(&cmd);
            let out = cmd
                .current_dir(dir)
                .stdin(Stdio::null())
                .output()
                .with_context(|| format!("could not start `{line}`"))?;
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            match judge(check.expect, out.status.success(), &text) {
                Ok(()) => println!("ok: {line}  =>  {}", describe(check.expect)),
                Err(why) => {
                    println!("MISMATCH: {line}\n  {why}\n  output: {}", text.trim());
                    failures.push(format!("{line}: {why}"));
                }
            }
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} of {count} openssl checks of {} did not give the expected result:\n  {}",
            failures.len(),
            dir.display(),
            failures.join("\n  ")
        );
    }
    Ok(count)
}

/// Checks that every file of the PKI is there, that each key belongs to its certificate
/// and that each chain is the leaf followed by the intermediate.
pub(crate) fn files(sh: &Sh, dir: &Path) -> Result<usize> {
    let read = |file: &str| {
        std::fs::read_to_string(dir.join(file))
            .with_context(|| format!("{} is missing or unreadable", dir.join(file).display()))
    };
    let public_key = |args: &[&str]| -> Result<String> {
        let mut cmd = sh.cmd("openssl");
        cmd.current_dir(dir).args(args);
        sh.read(&mut cmd)
    };
    let intermediate = read("intermediate-ca.pem")?;
    if read("ca-bundle.pem")? != read("root-ca.pem")? {
        bail!("ca-bundle.pem is not exactly root-ca.pem");
    }
    for spec in SPECS {
        let cert_file = format!("{}.pem", spec.name);
        let key_file = format!("{}-key.pem", spec.name);
        let cert = read(&cert_file)?;
        if !read(&key_file)?.starts_with("-----BEGIN PRIVATE KEY-----\n") {
            bail!("{key_file} is not a PKCS#8 PEM private key");
        }
        let from_cert = public_key(&["x509", "-noout", "-pubkey", "-in", &cert_file])?;
        let from_key = public_key(&["pkey", "-pubout", "-in", &key_file])?;
        if from_cert != from_key {
            bail!("{key_file} is not the key of {cert_file}");
        }
        if spec.has_chain() && read(&format!("{}-chain.pem", spec.name))? != cert + &intermediate {
            bail!("{}-chain.pem is not {cert_file} followed by intermediate-ca.pem", spec.name);
        }
    }
    println!(
        "ok: every certificate, key and chain of {} is there and belongs together",
        dir.display()
    );
    Ok(SPECS.len())
}

/// The expected result in words.
pub(crate) fn describe(expect: Expect) -> String {
    match expect {
        Expect::Ok => "OK".to_owned(),
        Expect::Error(code, message) => format!("error {code} ({message})"),
    }
}

/// Whether `openssl verify`'s exit status and output match `expect`.
///
/// Failures are recognised by `error <code> at <depth>`: the code is stable across OpenSSL
/// versions, the wording of the message is not.
pub(crate) fn judge(expect: Expect, success: bool, output: &str) -> Result<(), String> {
    match expect {
        Expect::Ok if success => Ok(()),
        Expect::Ok => Err("expected OK, verification failed".to_owned()),
        Expect::Error(..) if success => Err("expected a failure, verification passed".to_owned()),
        Expect::Error(code, message) => {
            let marker = format!("error {code} at ");
            if output.contains(&marker) {
                Ok(())
            } else {
                Err(format!("expected error {code} ({message}), got another error"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPIRED_OUTPUT: &str = "CN = mail.test\nerror 10 at 0 depth lookup: certificate has \
                                  expired\nerror server-expired.pem: verification failed\n";

    #[test]
    fn judging_compares_status_and_error_code() {
        let expired = Expect::Error(10, "certificate has expired");
        assert_eq!(judge(Expect::Ok, true, "server.pem: OK\n"), Ok(()));
        assert_eq!(judge(expired, false, EXPIRED_OUTPUT), Ok(()));
        assert!(judge(Expect::Ok, false, EXPIRED_OUTPUT).is_err());
        assert!(judge(expired, true, "server-expired.pem: OK\n").is_err());
        let not_yet_valid = Expect::Error(9, "certificate is not yet valid");
        assert_eq!(
            judge(not_yet_valid, false, EXPIRED_OUTPUT),
            Err("expected error 9 (certificate is not yet valid), got another error".to_owned())
        );
    }

    #[test]
    fn the_command_names_the_chain_and_the_time() {
        let sh = Sh::new(std::path::PathBuf::from("/"));
        let expired = SPECS.iter().find(|s| s.name == "server-expired").unwrap();
        let at_check = expired.checks.iter().find(|c| c.at.is_some()).unwrap();
        assert_eq!(
            command_line(&sh, expired, at_check),
            "openssl verify -CAfile ca-bundle.pem -untrusted intermediate-ca.pem -purpose \
             sslserver -verify_hostname mail.test -attime 1719792000 server-expired.pem"
        );
    }
}
