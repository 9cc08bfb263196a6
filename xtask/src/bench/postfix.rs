//! A private Postfix instance, the reference MTA of the durable and TLS runs: its own
//! configuration, queue and data folders in a scratch folder, smtpd on a free loopback
//! port, started as root with `postfix -c DIR start` and stopped when dropped.
//!
//! What it does with mail, chosen per run:
//! - [`Disposition::Hold`]: every recipient triggers the HOLD action, so the cleanup
//!   server writes the message to the queue (fsync) before smtpd answers 250, and the
//!   queue manager never touches it again: "accepted into its queue", nothing more.
//! - [`Disposition::Discard`]: the DISCARD action, for the TLS runs (the counterpart of
//!   `sealpost serve --handler discard`).
//!
//! `in_flow_delay = 0`: Postfix otherwise slows down clients when mail arrives faster than
//! it is delivered, which is always the case when nothing is delivered.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::procs::{free_port, wait_for_port};
use crate::install;
use crate::sh::Sh;

/// What the instance does with accepted mail.
#[derive(Clone, Copy)]
pub(crate) enum Disposition {
    Hold,
    Discard,
}

/// A running private Postfix.
pub(crate) struct Postfix {
    dir: PathBuf,
    pub(crate) addr: SocketAddr,
    running: bool,
}

/// The services a smtpd-only instance needs (Debian's master.cf without the delivery
/// agents and pipes; nothing chrooted).
const MASTER_CF: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
";

/// What every instance's `main.cf` starts with: everything below `dir`, smtpd on loopback
/// only, relaying for `relay_domains`, no aliases, and no throttling of clients.
fn instance_cf(dir: &str, relay_domains: &str) -> String {
    let relay_domains = format!("relay_domains = {relay_domains}");
    let relay_domains = relay_domains.trim_end();
    format!(
        "compatibility_level = 3.6\n\
         config_directory = {dir}/etc\n\
         queue_directory = {dir}/queue\n\
         data_directory = {dir}/data\n\
         maillog_file = {dir}/maillog\n\
         maillog_file_prefixes = {dir}\n\
         inet_interfaces = 127.0.0.1\n\
         inet_protocols = ipv4\n\
         myhostname = postfix.test\n\
         mydestination =\n\
         mynetworks = 127.0.0.0/8\n\
         {relay_domains}\n\
         alias_maps =\n\
         in_flow_delay = 0\n"
    )
}

/// smtpd's STARTTLS with the certificate chain `cert` and its key.
fn smtpd_tls_cf(cert: &str, key: &str) -> String {
    format!(
        "smtpd_tls_security_level = may\n\
         smtpd_tls_cert_file = {cert}\n\
         smtpd_tls_key_file = {key}\n\
         smtpd_tls_loglevel = 0\n"
    )
}

/// The instance's `main.cf`: everything below `dir`, smtpd only, every recipient in
/// `y.test` accepted from loopback and given the disposition's action.
pub(crate) fn main_cf(
    dir: &str,
    disposition: Disposition,
    tls: Option<&(String, String)>,
) -> String {
    let action = match disposition {
        Disposition::Hold => "HOLD",
        Disposition::Discard => "DISCARD",
    };
    let mut main_cf = instance_cf(dir, "y.test");
    main_cf.push_str(&format!(
        "smtpd_relay_restrictions = permit_mynetworks, reject\n\
         smtpd_recipient_restrictions = check_recipient_access static:{action}, permit_mynetworks, reject\n"
    ));
    if let Some((cert, key)) = tls {
        main_cf.push_str(&smtpd_tls_cf(cert, key));
    }
    main_cf
}

/// The Postfix side of the relay runs: which sink takes which recipient domain, how
/// many deliveries at once, and the client certificate that may relay.
pub(crate) struct RelaySetup {
    /// Recipient domain and the next hop that takes its mail (`transport_maps`:
    /// `smtp:NEXTHOP`, e.g. `[127.0.0.1]:2600`).
    pub(crate) transports: Vec<(String, String)>,
    /// `smtp_destination_concurrency_limit`, and the smtp service's process limit in
    /// `master.cf` (deliveries at once, all destinations together).
    pub(crate) concurrency: usize,
    /// `minimal_backoff_time`, `maximal_backoff_time` and `queue_run_delay`, seconds.
    pub(crate) retry: u64,
    /// SHA-256 fingerprint (hex with colons) of the client certificate that may relay.
    pub(crate) client_cert: String,
}

/// The `main.cf` of a relaying instance: smtpd with STARTTLS that asks for client
/// certificates and relays for the one in `relay_clientcerts`, to the sinks of
/// `transport_maps`, without TLS on the way out.
pub(crate) fn relay_main_cf(
    dir: &str,
    relay: &RelaySetup,
    (cert, key): &(String, String),
) -> String {
    let transports: Vec<String> = relay
        .transports
        .iter()
        .map(|(domain, nexthop)| format!("{domain}=smtp:{nexthop}"))
        .collect();
    let mut main_cf = instance_cf(dir, "");
    main_cf.push_str(&smtpd_tls_cf(cert, key));
    main_cf.push_str(&format!(
        "smtpd_tls_ask_ccert = yes\n\
         smtpd_tls_fingerprint_digest = sha256\n\
         relay_clientcerts = inline:{{ {fingerprint}=bench-client }}\n\
         smtpd_relay_restrictions = permit_tls_clientcerts, reject\n\
         smtpd_recipient_restrictions =\n\
         transport_maps = inline:{{ {transports} }}\n\
         smtp_tls_security_level = none\n\
         smtp_destination_concurrency_limit = {concurrency}\n\
         minimal_backoff_time = {retry}s\n\
         maximal_backoff_time = {retry}s\n\
         queue_run_delay = {retry}s\n",
        fingerprint = relay.client_cert,
        transports = transports.join(", "),
        concurrency = relay.concurrency,
        retry = relay.retry,
    ));
    main_cf
}

/// The smtp client's line of [`MASTER_CF`]; the relay runs give it a process limit.
const SMTP_LINE: &str = "smtp      unix  -       -       n       -       -       smtp\n";

/// Installs Postfix (which brings smtp-source and smtp-sink) if it is missing.
pub(crate) fn ensure_installed(sh: &mut Sh) -> Result<()> {
    // The Postfix programs live in /usr/sbin, which a non-login shell may not search.
    sh.add_path(PathBuf::from("/usr/sbin"));
    let present = |sh: &Sh| {
        ["smtp-source", "smtp-sink", "postfix", "postconf", "postsuper"]
            .iter()
            .all(|p| sh.probe(sh.cmd("sh").args(["-c", &format!("command -v {p}")])))
    };
    if present(sh) {
        return Ok(());
    }
    println!("Postfix (smtpd, smtp-source, smtp-sink) is missing: installing the Debian package");
    let mut preseed = sh.cmd("debconf-set-selections");
    preseed.stdin(Stdio::piped());
    let mut child = preseed.spawn().context("cannot run debconf-set-selections")?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().context("no stdin")?;
        stdin.write_all(b"postfix postfix/main_mailer_type select No configuration\n")?;
    }
    if !child.wait()?.success() {
        bail!("debconf-set-selections failed");
    }
    install::apt_install(sh, &["postfix"])?;
    if !present(sh) {
        bail!("postfix is installed but smtp-source, smtp-sink or postfix are still missing");
    }
    Ok(())
}

/// The Postfix version (`mail_version`).
pub(crate) fn version(sh: &Sh) -> Result<String> {
    Ok(sh.read(sh.cmd("postconf").args(["-d", "-h", "mail_version"]))?.trim().to_owned())
}

impl Postfix {
    /// Configures and starts an instance in `dir` (created empty); `tls` is the
    /// certificate chain and key for STARTTLS.
    pub(crate) fn start(
        sh: &Sh,
        dir: &Path,
        disposition: Disposition,
        tls: Option<(&Path, &Path)>,
    ) -> Result<Postfix> {
        let tls = tls.map(|(cert, key)| (cert.display().to_string(), key.display().to_string()));
        let main_cf = main_cf(&dir.display().to_string(), disposition, tls.as_ref());
        Postfix::launch(sh, dir, &main_cf, MASTER_CF)
    }

    /// Configures and starts a relaying instance in `dir` (see [`relay_main_cf`]); `tls`
    /// is the certificate chain and key for STARTTLS.
    pub(crate) fn start_relay(
        sh: &Sh,
        dir: &Path,
        relay: &RelaySetup,
        (cert, key): (&Path, &Path),
    ) -> Result<Postfix> {
        let tls = (cert.display().to_string(), key.display().to_string());
        let main_cf = relay_main_cf(&dir.display().to_string(), relay, &tls);
        let limited = format!("smtp unix - - n - {} smtp\n", relay.concurrency);
        let master_cf = MASTER_CF.replace(SMTP_LINE, &limited);
        if master_cf == MASTER_CF {
            bail!("master.cf has no smtp line to change: {SMTP_LINE:?}");
        }
        Postfix::launch(sh, dir, &main_cf, &master_cf)
    }

    fn launch(sh: &Sh, dir: &Path, main_cf: &str, master_cf: &str) -> Result<Postfix> {
        let _ = std::fs::remove_dir_all(dir);
        for sub in ["etc", "queue", "data"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
        std::fs::write(dir.join("etc/main.cf"), main_cf)?;
        let smtpd = format!("{addr} inet n - n - - smtpd\n");
        std::fs::write(dir.join("etc/master.cf"), smtpd + master_cf)?;
        sh.run(sh.cmd("chown").args(["-R", "postfix"]).arg(dir.join("data")))?;
        let etc = dir.join("etc");
        // postfix(1) reports configuration errors only to a terminal or syslog: script(1)
        // gives it a terminal whose output lands in the error message.
        let start = format!("postfix -c {} start", etc.display());
        let out = sh
            .cmd("script")
            .args(["-qec", &start, "/dev/null"])
            .stdin(Stdio::null())
            .output()
            .context("cannot run script(1) (util-linux)")?;
        let instance = Postfix { dir: dir.to_owned(), addr, running: true };
        if !out.status.success() {
            bail!(
                "`{start}` failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                instance.log_tail()
            );
        }
        wait_for_port(addr, "postfix smtpd").map_err(|e| e.context(instance.log_tail()))?;
        Ok(instance)
    }

    /// Messages in the deferred queue (its hashed subdirectories included).
    pub(crate) fn deferred(&self) -> Result<usize> {
        fn files(dir: &Path) -> Result<usize> {
            let mut count = 0;
            for entry in std::fs::read_dir(dir).with_context(|| dir.display().to_string())? {
                let entry = entry?;
                count += if entry.file_type()?.is_dir() { files(&entry.path())? } else { 1 };
            }
            Ok(count)
        }
        files(&self.dir.join("queue/deferred"))
    }

    /// Lines of its log that contain `needle`.
    pub(crate) fn log_lines(&self, needle: &str) -> usize {
        let log = std::fs::read_to_string(self.dir.join("maillog")).unwrap_or_default();
        log.lines().filter(|l| l.contains(needle)).count()
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("maillog")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().rev().take(20).collect();
        let tail: Vec<&str> = lines.into_iter().rev().collect();
        format!("\nlast lines of {}/maillog:\n{}", self.dir.display(), tail.join("\n"))
    }

    /// Messages in the hold queue.
    pub(crate) fn held(&self) -> Result<usize> {
        let hold = self.dir.join("queue/hold");
        Ok(std::fs::read_dir(&hold).with_context(|| hold.display().to_string())?.count())
    }

    /// `postfix stop`, then waits for the master process to be gone.
    pub(crate) fn stop(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        let pid_file = self.dir.join("queue/pid/master.pid");
        let pid = std::fs::read_to_string(&pid_file).unwrap_or_default().trim().to_owned();
        let etc = self.dir.join("etc");
        let stopped = std::process::Command::new("postfix")
            .arg("-c")
            .arg(&etc)
            .arg("stop")
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdout(Stdio::null())
            .status();
        if !stopped.is_ok_and(|s| s.success()) {
            bail!("`postfix -c {} stop` failed", etc.display());
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while !pid.is_empty() && alive(&pid) {
            if Instant::now() > deadline {
                bail!("the Postfix master (pid {pid}) still runs 20 s after `postfix stop`");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

/// True while process `pid` exists and is not a zombie (a daemon whose parent does not
/// reap it stays one).
fn alive(pid: &str) -> bool {
    let stat = std::fs::read_to_string(Path::new("/proc").join(pid).join("stat"));
    // The state follows the command name, which is in parentheses.
    stat.is_ok_and(|s| s.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
}

impl Drop for Postfix {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            eprintln!("warning: {e:#}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_instance_relays_only_for_the_certificate_to_the_sinks() {
        let relay = RelaySetup {
            transports: vec![
                ("ok.test".into(), "[127.0.0.1]:2600".into()),
                ("defer.test".into(), "[127.0.0.1]:2601".into()),
            ],
            concurrency: 20,
            retry: 3600,
            client_cert: "AB:CD".into(),
        };
        let cf = relay_main_cf("/d", &relay, &("c.pem".into(), "k.pem".into()));
        for line in [
            "relay_domains =\n",
            "smtpd_tls_cert_file = c.pem\n",
            "smtpd_tls_ask_ccert = yes\n",
            "relay_clientcerts = inline:{ AB:CD=bench-client }\n",
            "smtpd_relay_restrictions = permit_tls_clientcerts, reject\n",
            "transport_maps = inline:{ ok.test=smtp:[127.0.0.1]:2600, \
             defer.test=smtp:[127.0.0.1]:2601 }\n",
            "smtp_destination_concurrency_limit = 20\n",
            "minimal_backoff_time = 3600s\n",
        ] {
            assert!(cf.contains(line), "{line:?} missing from\n{cf}");
        }
        let hold = main_cf("/d", Disposition::Hold, None);
        assert!(hold.contains("relay_domains = y.test\n") && hold.contains("static:HOLD"));
        assert!(!hold.contains("smtpd_tls"), "{hold}");
    }
}
