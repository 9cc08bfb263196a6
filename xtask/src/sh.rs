//! Running external programs: every command is echoed before it runs, inherits the terminal,
//! and a failure names the command and its exit status.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use anyhow::{Context, Result, bail};

/// The workspace root plus the search path that child processes see.
///
/// Tools installed while xtask runs (a `pip install` into a scripts folder that is not on
/// `PATH` yet, `cargo install` into `$CARGO_HOME/bin`) must be found by the later steps of the
/// same run, so their folders are prepended here instead of asking the user to restart.
pub(crate) struct Sh {
    root: PathBuf,
    extra_path: Vec<PathBuf>,
}

impl Sh {
    /// A shell rooted at the workspace root.
    pub(crate) fn new(root: PathBuf) -> Self {
        // Where `cargo install` puts binaries.
        let mut extra_path = Vec::new();
        if let Some(root) = std::env::var_os("CARGO_INSTALL_ROOT") {
            extra_path.push(PathBuf::from(root).join("bin"));
        }
        if let Some(home) = cargo_home() {
            extra_path.push(home.join("bin"));
        }
        Self { root, extra_path }
    }

    /// The workspace root.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Makes the programs in `dir` visible to every later command.
    pub(crate) fn add_path(&mut self, dir: PathBuf) {
        if !self.extra_path.contains(&dir) {
            self.extra_path.insert(0, dir);
        }
    }

    /// A command for `program` that runs in the workspace root with the extended `PATH`.
    pub(crate) fn cmd(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.root).env("PATH", self.search_path());
        cmd
    }

    /// Runs `cmd` with the terminal attached; any exit status but success is an error.
    pub(crate) fn run(&self, cmd: &mut Command) -> Result<()> {
        let line = display(cmd);
        println!("$ {line}");
        let status = cmd.status().with_context(|| format!("could not start `{line}`"))?;
        if !status.success() {
            bail!("`{line}` failed ({status})");
        }
        Ok(())
    }

    /// Runs `cmd` with standard error passed through line by line and also kept: for
    /// programs that report on standard error (libFuzzer). The exit status is returned,
    /// not turned into an error.
    pub(crate) fn run_keeping_stderr(&self, cmd: &mut Command) -> Result<(ExitStatus, String)> {
        use std::io::BufRead as _;
        let line = display(cmd);
        println!("$ {line}");
        let mut child = cmd
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start `{line}`"))?;
        let mut kept = String::new();
        if let Some(stderr) = child.stderr.take() {
            for text in std::io::BufReader::new(stderr).split(b'\n') {
                let text = String::from_utf8_lossy(&text?).into_owned();
                eprintln!("{text}");
                kept.push_str(&text);
                kept.push('\n');
            }
        }
        let status = child.wait().with_context(|| format!("waiting for `{line}`"))?;
        Ok((status, kept))
    }

    /// Runs `cmd` quietly and tells whether it succeeded: for probing whether a tool exists.
    pub(crate) fn probe(&self, cmd: &mut Command) -> bool {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Runs `cmd` and returns its standard output; a failure carries its standard error.
    pub(crate) fn read(&self, cmd: &mut Command) -> Result<String> {
        let line = display(cmd);
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("could not start `{line}`"))?;
        if !out.status.success() {
            bail!(
                "`{line}` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn search_path(&self) -> OsString {
        let inherited = std::env::var_os("PATH").unwrap_or_default();
        let dirs = self.extra_path.iter().cloned().chain(std::env::split_paths(&inherited));
        std::env::join_paths(dirs).unwrap_or(inherited)
    }
}

/// `$CARGO_HOME`, or `~/.cargo` when it is not set.
fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
}

/// The command as a person would type it, with the environment it sets (but `PATH`).
pub(crate) fn display(cmd: &Command) -> String {
    let mut words = Vec::new();
    for (key, value) in cmd.get_envs() {
        if key == "PATH" {
            continue;
        }
        if let Some(value) = value {
            words.push(format!("{}={}", key.to_string_lossy(), quote(&value.to_string_lossy())));
        }
    }
    words.push(quote(&cmd.get_program().to_string_lossy()));
    words.extend(cmd.get_args().map(|arg| quote(&arg.to_string_lossy())));
    words.join(" ")
}

fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c));
    if plain { word.to_owned() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_what_a_shell_would_split_and_shows_env() {
        let mut cmd = Command::new("cargo");
        cmd.env("RUSTDOCFLAGS", "-D warnings").env("PATH", "/nowhere").args([
            "doc",
            "--workspace",
            "it's",
        ]);
        assert_eq!(display(&cmd), r"RUSTDOCFLAGS='-D warnings' cargo doc --workspace 'it'\''s'");
    }

    #[test]
    fn added_folders_come_first_in_the_search_path() {
        let mut sh = Sh::new(PathBuf::from("/"));
        sh.add_path(PathBuf::from("/opt/first"));
        let path = sh.search_path();
        let first = std::env::split_paths(&path).next();
        assert_eq!(first, Some(PathBuf::from("/opt/first")));
    }
}
