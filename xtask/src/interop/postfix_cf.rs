//! What the private Postfix instances of the suite share: the `main.cf` lines that make an
//! instance private (its own folders and log, loopback only, no DNS, no local delivery)
//! and the `master.cf` services. The relaying instance ([`super::postfix`]) and the
//! receiving one ([`super::client_postfix`]) add their own lines.

use std::fmt::Write as _;
use std::path::Path;

/// The `main.cf` of an instance in `dir` named `hostname`, with `extra` lines after the
/// shared ones.
pub(crate) fn main_cf(dir: &Path, hostname: &str, extra: &[&str]) -> String {
    let d = dir.display();
    let mut cf = String::new();
    let shared = [
        "compatibility_level = 3.6".to_owned(),
        format!("config_directory = {d}/etc"),
        format!("queue_directory = {d}/queue"),
        format!("data_directory = {d}/data"),
        format!("maillog_file = {d}/log/maillog"),
        format!("maillog_file_prefixes = {d}/log"),
        "mail_owner = postfix".to_owned(),
        "setgid_group = postdrop".to_owned(),
        format!("myhostname = {hostname}"),
        format!("mydomain = {hostname}"),
        format!("myorigin = {hostname}"),
        "mydestination =".to_owned(),
        "inet_interfaces = 127.0.0.1".to_owned(),
        "inet_protocols = ipv4".to_owned(),
        "mynetworks = 127.0.0.0/8".to_owned(),
        "alias_maps =".to_owned(),
        "alias_database =".to_owned(),
        "local_recipient_maps =".to_owned(),
        "biff = no".to_owned(),
        // No DNS anywhere: next hops are address literals.
        "smtp_dns_support_level = disabled".to_owned(),
        "disable_dns_lookups = yes".to_owned(),
        format!("transport_maps = texthash:{d}/etc/transport"),
    ];
    for line in shared.iter().map(String::as_str).chain(extra.iter().copied()) {
        let _ = writeln!(cf, "{line}");
    }
    cf
}

/// `master.cf`: smtpd on 127.0.0.1:`port`, the internal services, and `extra` service
/// lines.
pub(crate) fn master_cf(port: u16, extra: &str) -> String {
    format!(
        "127.0.0.1:{port} inet n - n - - smtpd\n\
         pickup unix n - n 60 1 pickup\n\
         cleanup unix n - n - 0 cleanup\n\
         qmgr unix n - n 300 1 qmgr\n\
         tlsmgr unix - - n 1000? 1 tlsmgr\n\
         rewrite unix - - n - - trivial-rewrite\n\
         bounce unix - - n - 0 bounce\n\
         defer unix - - n - 0 bounce\n\
         trace unix - - n - 0 bounce\n\
         verify unix - - n - 1 verify\n\
         flush unix n - n 1000? 0 flush\n\
         proxymap unix - - n - - proxymap\n\
         proxywrite unix - - n - 1 proxymap\n\
         smtp unix - - n - - smtp\n\
         {extra}\
         relay unix - - n - - smtp\n\
         showq unix n - n - - showq\n\
         error unix - - n - - error\n\
         retry unix - - n - - error\n\
         discard unix - - n - - discard\n\
         anvil unix - - n - 1 anvil\n\
         scache unix - - n - 1 scache\n\
         postlog unix-dgram n - n - 1 postlogd\n"
    )
}
