//! What a libFuzzer run reports about itself, read from its standard error: the final
//! statistics (`-print_final_stats=1`) and the coverage of its last status line.

/// The figures of one run. Each is `None` when libFuzzer did not print it (a run that
/// crashed before its first status line, an older libFuzzer).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct FuzzStats {
    /// `stat::number_of_executed_units`: inputs executed.
    pub(crate) executions: Option<u64>,
    /// `stat::average_exec_per_sec`.
    pub(crate) execs_per_sec: Option<u64>,
    /// `cov:` of the last status line: coverage points (edges) reached.
    pub(crate) cov: Option<u64>,
    /// `ft:` of the last status line: features (edges with hit counts, and more).
    pub(crate) ft: Option<u64>,
    /// `corp:` of the last status line: inputs in the corpus.
    pub(crate) corpus: Option<u64>,
}

impl FuzzStats {
    /// Reads libFuzzer's standard error. Status lines look like
    /// `#12920\tDONE   cov: 1803 ft: 6299 corp: 299/4695b lim: 21 exec/s: 807 rss: 474Mb`;
    /// the final statistics like `stat::number_of_executed_units: 12920`.
    pub(crate) fn parse(stderr: &str) -> Self {
        let mut stats = FuzzStats::default();
        for line in stderr.lines() {
            let line = line.trim();
            if let Some(stat) = line.strip_prefix("stat::")
                && let Some((name, value)) = stat.split_once(':')
            {
                let value = value.trim().parse().ok();
                match name {
                    "number_of_executed_units" => stats.executions = value,
                    "average_exec_per_sec" => stats.execs_per_sec = value,
                    _ => {}
                }
            } else if line.starts_with('#') && line.contains(" cov: ") {
                stats.cov = field(line, "cov:").or(stats.cov);
                stats.ft = field(line, "ft:").or(stats.ft);
                stats.corpus = field(line, "corp:").or(stats.corpus);
            }
        }
        stats
    }
}

/// The number after `name` on a status line (`corp: 299/4695b` gives 299).
fn field(line: &str, name: &str) -> Option<u64> {
    let mut words = line.split_whitespace();
    words.find(|w| *w == name)?;
    let value = words.next()?;
    let digits = value.split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

/// How a target's run ended, for the summary.
#[derive(Debug)]
pub(crate) struct TargetRun {
    /// The target.
    pub(crate) target: String,
    /// Its figures.
    pub(crate) stats: FuzzStats,
    /// `None` when it passed, else why not (a crash, a leak, a timeout).
    pub(crate) failure: Option<String>,
}

/// The summary table: one row per target, in the order they ran.
pub(crate) fn table(runs: &[TargetRun]) -> String {
    let show = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    let mut rows = vec![[
        "target".to_owned(),
        "executions".to_owned(),
        "exec/s".to_owned(),
        "cov".to_owned(),
        "ft".to_owned(),
        "corpus".to_owned(),
        "result".to_owned(),
    ]];
    for run in runs {
        rows.push([
            run.target.clone(),
            show(run.stats.executions),
            show(run.stats.execs_per_sec),
            show(run.stats.cov),
            show(run.stats.ft),
            show(run.stats.corpus),
            run.failure.clone().unwrap_or_else(|| "ok".to_owned()),
        ]);
    }
    let widths: Vec<usize> =
        (0..7).map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                // Names and results to the left, figures to the right.
                if c == 0 || c == 6 {
                    format!("{cell:<w$}", w = widths[c])
                } else {
                    format!("{cell:>w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The end of a real run's standard error (libFuzzer of cargo-fuzz 0.13).
    const FINISHED: &str = "\
INFO: Seed: 2817396651
#2\tINITED cov: 412 ft: 413 corp: 1/1b exec/s: 0 rss: 43Mb
#12881\tNEW    cov: 1803 ft: 6298 corp: 298/4690b lim: 21 exec/s: 805 rss: 474Mb L: 9/21 MS: 1 ChangeBit-
#12920\tDONE   cov: 1803 ft: 6299 corp: 299/4695b lim: 21 exec/s: 807 rss: 474Mb
Done 12920 runs in 16 second(s)
stat::number_of_executed_units: 12920
stat::average_exec_per_sec:     807
stat::new_units_added:          297
stat::slowest_unit_time_sec:    0
stat::peak_rss_mb:              474
";

    #[test]
    fn reads_the_final_statistics_and_the_last_coverage() {
        assert_eq!(
            FuzzStats::parse(FINISHED),
            FuzzStats {
                executions: Some(12920),
                execs_per_sec: Some(807),
                cov: Some(1803),
                ft: Some(6299),
                corpus: Some(299),
            }
        );
    }

    #[test]
    fn a_crash_before_any_status_line_has_only_the_statistics() {
        let crashed = "\
INFO: Running with entropic power schedule (0xFF, 100).
thread '<unnamed>' panicked at src/mime.rs:41:9:
==6780== ERROR: libFuzzer: deadly signal
MS: 2 CopyPart-InsertByte-; base unit: 0
stat::number_of_executed_units: 3
stat::average_exec_per_sec:     0
";
        let stats = FuzzStats::parse(crashed);
        assert_eq!((stats.executions, stats.execs_per_sec), (Some(3), Some(0)));
        assert_eq!((stats.cov, stats.ft, stats.corpus), (None, None, None));
        assert_eq!(FuzzStats::parse(""), FuzzStats::default());
    }

    #[test]
    fn status_lines_without_coverage_and_odd_numbers_are_skipped() {
        let odd = "#1\tpulse  exec/s: 3\n#5\tNEW    cov: x ft: 12 corp: 3/9b\nstat::number_of_executed_units: many\n";
        let stats = FuzzStats::parse(odd);
        assert_eq!(
            (stats.cov, stats.ft, stats.corpus, stats.executions),
            (None, Some(12), Some(3), None)
        );
    }

    #[test]
    fn the_table_aligns_figures_and_names_failures() {
        let runs = vec![
            TargetRun {
                target: "mime_walk".into(),
                stats: FuzzStats::parse(FINISHED),
                failure: None,
            },
            TargetRun {
                target: "identity".into(),
                stats: FuzzStats { executions: Some(632), ..FuzzStats::default() },
                failure: Some("crash (exit status 77)".into()),
            },
        ];
        assert_eq!(
            table(&runs),
            "\
target     executions  exec/s   cov    ft  corpus  result
mime_walk       12920     807  1803  6299     299  ok
identity          632       -     -     -       -  crash (exit status 77)
"
        );
    }
}
