//! The figures of `cargo xtask bench server` and their section of `docs/performance.md`.
//!
//! The section sits between two marker comments; a new run replaces only what lies
//! between them (or appends the section when they are missing), so the codec's
//! section and any notes outside the markers are kept.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::sh::Sh;

const BEGIN: &str = "<!-- BEGIN cargo xtask bench server: generated, re-run to update -->";
const END: &str = "<!-- END cargo xtask bench server -->";

/// Where the run happened.
pub(crate) struct Machine {
    nproc: usize,
    cpu: String,
    memory: String,
    kernel: String,
    rustc: String,
    date: String,
    load_before: String,
}

impl Machine {
    pub(crate) fn probe(sh: &Sh) -> Result<Machine> {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            .unwrap_or_else(|| String::from("unknown"));
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or_else(|| String::from("unknown"), |kib| format!("{} GiB", kib >> 20));
        Ok(Machine {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            memory,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| String::from("unknown"), |k| k.trim().to_owned()),
            rustc: sh.read(sh.cmd("rustc").arg("--version"))?.trim().to_owned(),
            // `YYYY-MM-DD`, the day in UTC.
            date: time::OffsetDateTime::now_utc().date().to_string(),
            load_before: load_average(),
        })
    }
}

impl Machine {
    /// The machine on one line, for a report.
    pub(crate) fn one_line(&self) -> String {
        format!(
            "{} vCPUs, `{}`, {} RAM, Linux {}; {}; {}",
            self.nproc, self.cpu, self.memory, self.kernel, self.rustc, self.date
        )
    }
}

/// The 1, 5 and 15 minute load averages.
pub(crate) fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// Sum of `messages=N` over the session lines of a sealpost log.
pub(crate) fn messages_logged(log: &Path) -> Result<usize> {
    let text = std::fs::read_to_string(log).with_context(|| log.display().to_string())?;
    Ok(text
        .lines()
        .filter_map(|l| l.split(" messages=").nth(1))
        .filter_map(|rest| rest.split(' ').next()?.parse::<usize>().ok())
        .sum())
}

/// The runs of one contender: how many items each did, how long each took.
pub(crate) struct Run {
    pub(crate) name: &'static str,
    pub(crate) items: usize,
    pub(crate) times: Vec<Duration>,
}

impl Run {
    pub(crate) fn new(name: &'static str, items: usize) -> Run {
        Run { name, items, times: Vec::new() }
    }

    /// Items per second of the fastest run.
    fn best_rate(&self) -> f64 {
        self.rates().into_iter().fold(0.0, f64::max)
    }

    fn rates(&self) -> Vec<f64> {
        self.times.iter().map(|t| self.items as f64 / t.as_secs_f64()).collect()
    }

    fn cell(&self, unit: &str) -> String {
        let all: Vec<String> = self.rates().iter().map(|r| format!("{r:.0}")).collect();
        format!("**{:.0}** {unit}/s (runs: {})", self.best_rate(), all.join(", "))
    }
}

/// sealpost against a peer on one workload.
pub(crate) struct Comparison {
    what: String,
    command: String,
    ours: Run,
    theirs: Run,
    target: f64,
    /// A ratio worth aiming for beyond the target, shown next to it.
    pub(crate) aim: Option<f64>,
}

impl Comparison {
    pub(crate) fn new(what: &str, command: String, ours: Run, theirs: Run, target: f64) -> Self {
        Comparison { what: what.to_owned(), command, ours, theirs, target, aim: None }
    }

    /// A comparison driven by smtp-source.
    pub(crate) fn smtp_source(
        reuse: bool,
        messages: usize,
        ours: Run,
        theirs: Run,
        target: f64,
    ) -> Self {
        let what =
            if reuse { "one connection per session (-d)" } else { "new connection per message" };
        let args = super::smtp_source_args(messages, reuse, "PORT").join(" ");
        Comparison::new(what, format!("`smtp-source {args}`"), ours, theirs, target)
    }

    fn ratio(&self) -> f64 {
        self.ours.best_rate() / self.theirs.best_rate()
    }
}

/// Several contenders on one workload: one row of a [`contest_table`].
pub(crate) struct Row {
    pub(crate) what: String,
    /// The command line or a description of the load.
    pub(crate) command: String,
    /// One per contender, in the order of the columns.
    pub(crate) runs: Vec<Run>,
}

/// A ratio shown for every row: the best rate of contender `of` over that of `to`.
pub(crate) struct Ratio {
    pub(crate) label: &'static str,
    pub(crate) of: usize,
    pub(crate) to: usize,
    pub(crate) target: Option<f64>,
}

impl Ratio {
    fn cell(&self, row: &Row) -> String {
        let (Some(of), Some(to)) = (row.runs.get(self.of), row.runs.get(self.to)) else {
            return String::from("-");
        };
        let ratio = of.best_rate() / to.best_rate();
        match self.target {
            Some(target) => format!("{ratio:.2}x (>= {target:.1}x: {})", verdict(ratio >= target)),
            None => format!("{ratio:.2}x"),
        }
    }
}

/// A table of `rows` with a column per contender and per ratio, then each row's command.
pub(crate) fn contest_table(out: &mut String, rows: &[Row], ratios: &[Ratio], unit: &str) {
    let Some(first) = rows.first() else { return };
    let names: Vec<&str> = first.runs.iter().map(|r| r.name).collect();
    let labels: Vec<&str> = ratios.iter().map(|r| r.label).collect();
    let _ = writeln!(out, "| workload | {} | {} |", names.join(" | "), labels.join(" | "));
    let _ = writeln!(out, "|{}", " --- |".repeat(1 + names.len() + labels.len()));
    for row in rows {
        let cells: Vec<String> = row.runs.iter().map(|r| r.cell(unit)).collect();
        let ratio_cells: Vec<String> = ratios.iter().map(|r| r.cell(row)).collect();
        let _ =
            writeln!(out, "| {} | {} | {} |", row.what, cells.join(" | "), ratio_cells.join(" | "));
    }
    out.push('\n');
    for row in rows {
        let _ = writeln!(out, "- {}: {}", row.what, row.command);
    }
    out.push('\n');
}

/// Memory of one idle-connection run.
pub(crate) struct IdleResult {
    pub(crate) count: usize,
    pub(crate) tls: bool,
    pub(crate) before_kib: u64,
    pub(crate) after_kib: u64,
    pub(crate) target_kib: u64,
}

impl IdleResult {
    fn per_connection_kib(&self) -> f64 {
        self.after_kib.saturating_sub(self.before_kib) as f64 / self.count as f64
    }
}

/// Everything one run measured.
pub(crate) struct Results {
    machine: Machine,
    postfix: String,
    setup: String,
    pub(crate) plain: Vec<Comparison>,
    pub(crate) durable: Vec<Comparison>,
    pub(crate) queue: Option<super::queue::QueueResults>,
    pub(crate) relay: Option<super::relay::RelayResults>,
    pub(crate) tls: Option<Comparison>,
    pub(crate) idle: Vec<IdleResult>,
    pub(crate) load_after: String,
    /// The command line of the run.
    pub(crate) command: String,
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

fn table(out: &mut String, rows: &[Comparison], unit: &str) {
    let Some(first) = rows.first() else { return };
    let (ours, theirs) = (first.ours.name, first.theirs.name);
    let _ = writeln!(out, "| workload | {ours} | {theirs} | ratio | target |");
    let _ = writeln!(out, "| --- | --- | --- | --- | --- |");
    for row in rows {
        let ratio = row.ratio();
        let aim = row.aim.map(|aim| format!(" (aim {aim:.1}x)")).unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {ratio:.2}x | >= {:.1}x{aim}: {} |",
            row.what,
            row.ours.cell(unit),
            row.theirs.cell(unit),
            row.target,
            verdict(ratio >= row.target)
        );
    }
    out.push('\n');
    for row in rows {
        let _ = writeln!(out, "- {}: {}", row.what, row.command);
    }
    out.push('\n');
}

impl Results {
    pub(crate) fn new(machine: Machine, postfix: String, setup: String) -> Results {
        Results {
            machine,
            postfix,
            setup,
            plain: Vec::new(),
            durable: Vec::new(),
            queue: None,
            relay: None,
            tls: None,
            idle: Vec::new(),
            load_after: String::new(),
            command: String::new(),
        }
    }

    /// The Markdown section, markers included.
    pub(crate) fn render(&self) -> String {
        let m = &self.machine;
        let mut out = String::new();
        let _ = writeln!(out, "{BEGIN}\n");
        out.push_str(
            "# Performance of the server (`sealpost serve`)\n\n\
             `cargo xtask bench server` (the code is `xtask/src/bench/`) measures the whole \
             `sealpost serve` process, built with `--release`, against real peers on \
             loopback in the same run. Contenders take turns (sealpost, peer, sealpost, \
             peer); the best run of each gives the rate, and every run is listed. Every \
             message is checked: smtp-source fails on any error reply, the sealpost log and \
             Maildir and the Postfix hold queue are counted after each run. The parts \
             `queue` (acceptance by queue backend) and `relay` (accept, queue, deliver) \
             write sections of their own, after the notes below.\n\n",
        );
        out.push_str("## Machine and run\n\n");
        let _ = writeln!(
            out,
            "- {} vCPUs (`nproc`), `{}`, {} RAM, Linux {}; a shared machine.\n\
             - {}; Postfix {} (Debian package); smtp-source and smtp-sink from the same \
             package.\n\
             - Date: {}. Load average (1, 5, 15 min) before: {}; after: {}.\n",
            m.nproc,
            m.cpu,
            m.memory,
            m.kernel,
            m.rustc,
            self.postfix,
            m.date,
            m.load_before,
            self.load_after
        );
        out.push_str(
            "```sh\ncargo xtask bench server   # all parts; writes this section\n\
             cargo xtask bench server --only plain,tls --runs 3   # some parts, printed only\n```\n\n",
        );
        out.push_str("### Servers\n\n");
        out.push_str(&self.setup);
        out.push('\n');
        if !self.plain.is_empty() {
            out.push_str(
                "## Throughput: `sealpost serve --handler discard` vs smtp-sink\n\n\
                 smtp-source sends 5 KiB messages over 10 parallel sessions; msg/s is \
                 messages over smtp-source's wall time. smtp-sink acknowledges each message \
                 and throws it away; so does the discard handler, after the whole server \
                 path (session state machine, DATA scanning, Received header, per-session \
                 log line).\n\n",
            );
            table(&mut out, &self.plain, "msg");
        }
        if !self.durable.is_empty() {
            out.push_str(
                "## Durable throughput: `--handler maildir` vs Postfix into its queue\n\n\
                 sealpost answers 250 after the message is in the Maildir: written to the \
                 spool, fsynced, linked into `new/`, `new/` fsynced. Postfix answers 250 \
                 after its cleanup server has written the queue file and fsynced it; a \
                 `check_recipient_access static:HOLD` restriction puts every message on \
                 hold, so the queue manager never delivers it (`in_flow_delay = 0`, or \
                 Postfix would throttle clients while nothing leaves the queue). Each run \
                 starts a fresh instance of each; Postfix logs to a file (`maillog_file`), \
                 sealpost to its standard error, redirected to a file.\n\n",
            );
            table(&mut out, &self.durable, "msg");
        }
        if let Some(tls) = &self.tls {
            out.push_str(
                "## STARTTLS sessions per second\n\n\
                 Both servers use the test PKI's `server-chain.pem` (RSA 2048, with the \
                 intermediate); the client trusts `ca-bundle.pem` and checks the name \
                 `mail.test`. sealpost runs the discard handler, Postfix the `DISCARD` \
                 action (its cleanup server still sees each message), so the figure is the \
                 cost of connection, handshake and SMTP rather than storage.\n\n",
            );
            table(&mut out, std::slice::from_ref(tls), "sessions");
        }
        if !self.idle.is_empty() {
            out.push_str(
                "## Memory per idle connection\n\n\
                 `VmRSS` of the server process (`/proc/PID/status`) after a warm-up of 50 \
                 connections, then after opening the connections (each after EHLO; the TLS \
                 ones after STARTTLS, the handshake and EHLO again) and waiting for the \
                 figure to settle; the difference over the count. Kernel socket buffers are \
                 not in it. Each count on a fresh server with `max_connections` and \
                 `max_connections_per_ip` above it and a raised open-file limit \
                 (`prlimit --nofile`).\n\n\
                 | connections | RSS before | RSS after | per connection | target |\n\
                 | --- | --- | --- | --- | --- |\n",
            );
            for idle in &self.idle {
                let per = idle.per_connection_kib();
                let _ = writeln!(
                    out,
                    "| {} {} | {} KiB | {} KiB | {per:.1} KiB | <= {} KiB: {} |",
                    idle.count,
                    if idle.tls { "TLS" } else { "plaintext" },
                    idle.before_kib,
                    idle.after_kib,
                    idle.target_kib,
                    verdict(per <= idle.target_kib as f64)
                );
            }
            out.push('\n');
        }
        out.push_str(
            "Shared machines are noisy: other builds ran on this one. The ratios come from \
             one run of the benchmark (best of its interleaved runs); compare figures from \
             the same run only.\n\n",
        );
        out.push_str(END);
        out.push('\n');
        wrap(&out, WIDTH)
    }
}

/// The markers of the sections of the parts that write their own (`queue`, `relay`):
/// each is written whenever its part ran, alone or with others.
pub(crate) const QUEUE_MARKERS: (&str, &str) = (
    "<!-- BEGIN cargo xtask bench server --only queue: generated, re-run to update -->",
    "<!-- END cargo xtask bench server --only queue -->",
);
pub(crate) const RELAY_MARKERS: (&str, &str) = (
    "<!-- BEGIN cargo xtask bench server --only relay: generated, re-run to update -->",
    "<!-- END cargo xtask bench server --only relay -->",
);

impl Results {
    /// The sections of the parts with their own markers that ran: (begin, end, text).
    pub(crate) fn part_sections(&self) -> Vec<(&'static str, &'static str, String)> {
        let mut out = Vec::new();
        if let Some(queue) = &self.queue {
            let mut body = String::new();
            queue.render(&mut body);
            out.push(self.part_section(QUEUE_MARKERS, "queue", &body));
        }
        if let Some(relay) = &self.relay {
            let mut body = String::new();
            relay.render(&mut body);
            out.push(self.part_section(RELAY_MARKERS, "relay", &body));
        }
        out
    }

    fn part_section(
        &self,
        (begin, end): (&'static str, &'static str),
        part: &str,
        body: &str,
    ) -> (&'static str, &'static str, String) {
        let mut out = format!("{begin}\n\n");
        out.push_str(body);
        let _ = writeln!(
            out,
            "Run with `cargo xtask bench server --only {part}` (written to this section; \
             `--runs`, `--messages`, `--relay-messages`, `--relay-concurrency` change the \
             load, `--no-write` only prints); these figures: `{}`. Machine: {}; Postfix {}. \
             Load average (1, 5, 15 min) before: {}; after: {}. A shared machine: other \
             engineers built and ran tests on its two cores during the run, so the figures \
             are noisy; the ratios come from one run (best of its interleaved runs), compare \
             figures from the same run only.\n",
            self.command,
            self.machine.one_line(),
            self.postfix,
            self.machine.load_before,
            self.load_after
        );
        out.push_str(end);
        out.push('\n');
        (begin, end, wrap(&out, WIDTH))
    }
}

/// Line width of the prose, as in the rest of the document.
const WIDTH: usize = 95;

/// Wraps prose lines longer than `width` at spaces; table rows, code blocks and comments
/// stay as they are. List items continue with two spaces of indent.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 40);
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if in_code || line.len() <= width || line.starts_with('|') || line.starts_with("<!--") {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let indent = if line.starts_with("- ") || line.starts_with("  ") { "  " } else { "" };
        let mut current = String::new();
        for word in line.split(' ').filter(|w| !w.is_empty()) {
            let first = current.is_empty();
            if !first && current.len() + 1 + word.len() > width {
                out.push_str(&current);
                out.push('\n');
                current = format!("{indent}{word}");
            } else {
                if first && line.starts_with("  ") {
                    current.push_str(indent);
                } else if !first {
                    current.push(' ');
                }
                current.push_str(word);
            }
        }
        out.push_str(&current);
        out.push('\n');
    }
    out
}

/// Replaces the section between the markers in `doc`, or appends it.
pub(crate) fn write_section(doc: &Path, section: &str) -> Result<()> {
    replace_section(doc, BEGIN, END, section)
}

/// Replaces the text from `BEGIN` to `END` (both lines included in `section`) in `doc`,
/// or appends `section`.
pub(crate) fn replace_section(
    doc: &Path,
    begin_marker: &str,
    end_marker: &str,
    section: &str,
) -> Result<()> {
    let text = std::fs::read_to_string(doc).unwrap_or_default();
    let new = match (text.find(begin_marker), text.find(end_marker)) {
        (Some(begin), Some(end)) if begin < end => {
            let rest = text[end + end_marker.len()..].trim_start_matches('\n');
            let rest = if rest.is_empty() { String::new() } else { format!("\n{rest}") };
            format!("{}{}{rest}", &text[..begin], section)
        }
        _ => format!("{}\n\n{section}", text.trim_end()),
    };
    std::fs::write(doc, new).with_context(|| format!("cannot write {}", doc.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_is_replaced_between_its_markers_and_the_rest_is_kept() {
        let dir = std::env::temp_dir().join(format!("xtask-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let doc = dir.join("performance.md");
        std::fs::write(&doc, "# Codec\n\ntext\n").unwrap();
        write_section(&doc, &format!("{BEGIN}\nfirst\n{END}\n")).unwrap();
        std::fs::write(&doc, std::fs::read_to_string(&doc).unwrap() + "\n## Notes\n\nkept\n")
            .unwrap();
        write_section(&doc, &format!("{BEGIN}\nsecond\n{END}\n")).unwrap();
        let text = std::fs::read_to_string(&doc).unwrap();
        assert_eq!(
            text,
            format!("# Codec\n\ntext\n\n{BEGIN}\nsecond\n{END}\n\n## Notes\n\nkept\n")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn prose_is_wrapped_and_tables_and_code_are_not() {
        let long = "word ".repeat(30);
        let text = format!("{long}\n- {long}\n| {long} |\n```\n{long}\n```\n");
        let wrapped = wrap(&text, 40);
        let lines: Vec<&str> = wrapped.lines().collect();
        assert!(lines.iter().take_while(|l| !l.starts_with('|')).all(|l| l.len() <= 40));
        assert!(lines.iter().any(|l| l.starts_with("  word")), "{wrapped}");
        assert!(lines.contains(&format!("| {long} |").as_str()));
        assert!(lines.contains(&long.as_str()), "code stays on one line");
        assert_eq!(wrapped.split_whitespace().count(), text.split_whitespace().count());
    }

    #[test]
    fn messages_are_summed_from_session_lines() {
        let dir = std::env::temp_dir().join(format!("xtask-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("sealpost.log");
        std::fs::write(
            &log,
            "INFO session a peer=x role=mx tls=none messages=3 rejected=0 duration=0.1s\n\
             INFO listening\nINFO session b peer=x role=mx messages=1 rejected=1\n",
        )
        .unwrap();
        assert_eq!(messages_logged(&log).unwrap(), 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_contest_table_has_a_column_per_contender_and_per_ratio() {
        let run = |name, secs: u64| Run {
            name,
            items: 1000,
            times: vec![Duration::from_secs(secs), Duration::from_secs(secs * 2)],
        };
        let rows = [Row {
            what: String::from("load"),
            command: String::from("`cmd`"),
            runs: vec![run("a", 1), run("b", 2)],
        }];
        let ratios = [
            Ratio { label: "b / a", of: 1, to: 0, target: Some(0.8) },
            Ratio { label: "a / b", of: 0, to: 1, target: None },
        ];
        let mut out = String::new();
        contest_table(&mut out, &rows, &ratios, "msg");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "| workload | a | b | b / a | a / b |");
        assert_eq!(lines[1], "| --- | --- | --- | --- | --- |");
        assert_eq!(
            lines[2],
            "| load | **1000** msg/s (runs: 1000, 500) | **500** msg/s (runs: 500, 250) | \
             0.50x (>= 0.8x: **missed**) | 2.00x |"
        );
        assert!(out.contains("- load: `cmd`"), "{out}");
    }
}
