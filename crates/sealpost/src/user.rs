//! The users who may log in: `sealpost user add`, and reading the file for `serve`.

use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use anyhow::{Context, bail};
use sealpost_mta::Users;

use crate::banner::UsersState;
use crate::cli::UserAddArgs;
use crate::settings::UsersFile;

/// `sealpost user add NAME --users FILE`, the password on standard input.
pub(crate) fn add(args: &UserAddArgs) -> anyhow::Result<()> {
    // Users::add checks the name (no ':', white space or control characters).
    let name = args.name.as_str();
    let password = read_password(name)?;
    if let Some(dir) = args.users.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    }
    Users::add(&args.users, name, &password)
        .with_context(|| format!("cannot add {name} to {}", args.users.display()))?;
    println!("{name} can now log in; users file: {}", args.users.display());
    println!(
        "`sealpost serve` reads the users at start, from DATA_DIR/users unless given --users FILE"
    );
    Ok(())
}

/// The first line of standard input, without its line ending. On a terminal, asks for it
/// with the echo turned off.
fn read_password(name: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    if terminal {
        eprint!("Password for {name}: ");
        set_echo(false);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if terminal {
        set_echo(true);
        eprintln!();
    }
    read.context("cannot read the password from standard input (it must be UTF-8 text)")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        bail!(
            "empty password: give it as the first line of standard input, e.g.\n  \
             printf '%s\\n' \"$PASSWORD\" | sealpost user add {name} --users FILE"
        );
    }
    Ok(password.to_owned())
}

/// Best effort: without `stty` the password shows while typed, which is no worse than a
/// terminal without echo control.
fn set_echo(on: bool) {
    let _ = Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(Stdio::inherit())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The users for `serve`: a file given by option must be readable; the default one is
/// used when it exists.
pub(crate) fn load_for_serve(file: &UsersFile) -> anyhow::Result<(Option<Arc<Users>>, UsersState)> {
    let (path, required) = match file {
        UsersFile::Given(path) => (path.as_path(), true),
        UsersFile::Default(path) => (path.as_path(), false),
    };
    if !required && !path.exists() {
        return Ok((None, UsersState { path: path.to_owned(), count: None }));
    }
    let users = load(path)?;
    let count = Some(users.len());
    Ok((Some(Arc::new(users)), UsersState { path: path.to_owned(), count }))
}

fn load(path: &Path) -> anyhow::Result<Users> {
    Users::load(path).with_context(|| {
        format!(
            "cannot read the users file {0}; create it with `sealpost user add NAME --users {0}`, \
             or pass --users FILE",
            path.display()
        )
    })
}
