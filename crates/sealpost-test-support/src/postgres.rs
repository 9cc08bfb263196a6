//! Private PostgreSQL clusters for tests: one per test (or per suite), in a temporary
//! directory, on a free loopback port, stopped and removed on drop.
//!
//! The server refuses to run as root, so when the tests run as root (CI) every
//! PostgreSQL program runs as the `postgres` user through `runuser`, in a directory
//! that user owns. Administration goes through the cluster's Unix socket (trusted);
//! TCP connections on 127.0.0.1, the ones the code under test makes, must give the
//! password of role [`PgCluster::USER`] (SCRAM), so the password path is always tested.
//!
//! Missing binaries are a failure that says how to install them, never a skip.
//!
//! [`installed_bin_dir`], [`bin_dir`], [`free_port`] and [`PgCluster::init`] with [`PgCluster::start`] are the
//! parts a primary + standby setup reuses (`pg_basebackup -R` into another directory,
//! started with [`PgCluster::open`]).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The directory of the newest installed PostgreSQL server's programs
/// (`/usr/lib/postgresql/<version>/bin`, Debian's layout), or `$SEALPOST_PG_BIN`; `None`
/// when there is no `initdb` in either.
pub fn installed_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SEALPOST_PG_BIN") {
        let dir = PathBuf::from(dir);
        return dir.join("initdb").is_file().then_some(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// [`installed_bin_dir`], or a panic with the command that installs the programs.
pub fn bin_dir() -> PathBuf {
    installed_bin_dir().unwrap_or_else(|| {
        panic!(
            "the PostgreSQL server programs are missing (no /usr/lib/postgresql/*/bin/initdb, \
             nor $SEALPOST_PG_BIN/initdb); install them with \
             `apt-get install -y --no-install-recommends postgresql-15` (`cargo xtask ci` does \
             this)"
        )
    })
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn running_as_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        let out = Command::new("id").arg("-u").output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "0"
    })
}

/// A PostgreSQL program of [`bin_dir`], run as the `postgres` user when we are root.
fn program(name: &str) -> Command {
    let path = bin_dir().join(name);
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(path);
        command
    } else {
        Command::new(path)
    }
}

/// Runs `command`, panicking with its output when it fails.
fn run(mut command: Command) -> Output {
    let out = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A private PostgreSQL cluster; see the [module documentation](self).
#[derive(Debug)]
pub struct PgCluster {
    /// The data directory (also the Unix socket's directory).
    data: PathBuf,
    port: u16,
    running: bool,
    /// Server settings given at start (`-c name=value`), never written into the data
    /// directory (so a standby copied from it does not inherit them).
    options: Vec<String>,
    /// Removed on drop (after the server stopped); `None` for a directory the caller owns.
    _temp: Option<TempDir>,
}

impl PgCluster {
    /// The role the code under test logs in as (it owns [`PgCluster::DATABASE`]).
    pub const USER: &'static str = "sealpost";
    /// Its password.
    pub const PASSWORD: &'static str = "test-password-1";
    /// The database made for it.
    pub const DATABASE: &'static str = "sealpost";

    /// A new cluster, running, with role [`USER`](Self::USER) and database
    /// [`DATABASE`](Self::DATABASE).
    pub fn new() -> PgCluster {
        let temp = tempfile::tempdir().unwrap();
        let data = temp.path().join("data");
        Self::init(&data);
        let mut cluster = Self::open(&data, free_port());
        cluster._temp = Some(temp);
        // A port that was free when picked can be taken by another test before the
        // server binds it: pick again (a few times, then fail with the server's log).
        for _ in 0..3 {
            if cluster.try_start().is_ok() {
                break;
            }
            cluster.port = free_port();
        }
        if !cluster.running {
            cluster.start();
        }
        cluster.psql(&format!(
            "CREATE ROLE {user} LOGIN PASSWORD '{password}'",
            user = Self::USER,
            password = Self::PASSWORD
        ));
        cluster.psql(&format!("CREATE DATABASE {} OWNER {}", Self::DATABASE, Self::USER));
        cluster
    }

    /// `initdb` into `data` (created, owned by `postgres` when we are root): the
    /// superuser `postgres` trusted on the Unix socket, every TCP login by password;
    /// listening on 127.0.0.1 only, with replication allowed for `postgres` (a standby
    /// made by `pg_basebackup` can follow).
    pub fn init(data: &Path) {
        std::fs::create_dir_all(data).unwrap();
        give_to_postgres(data);
        let mut initdb = program("initdb");
        initdb
            .arg("-D")
            .arg(data)
            .args(["-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256"])
            .args(["--no-sync", "--no-instructions", "-E", "UTF8", "--locale=C"]);
        run(initdb);
        let conf = data.join("postgresql.conf");
        let mut settings = std::fs::read_to_string(&conf).unwrap();
        settings.push_str(
            "\n# sealpost tests\nlisten_addresses = '127.0.0.1'\nfsync = off\n\
             wal_level = replica\nmax_wal_senders = 4\n",
        );
        std::fs::write(&conf, settings).unwrap();
        let hba = data.join("pg_hba.conf");
        let mut rules = std::fs::read_to_string(&hba).unwrap();
        rules.push_str("host replication postgres 127.0.0.1/32 trust\n");
        std::fs::write(&hba, rules).unwrap();
    }

    /// A cluster over an existing data directory (from [`PgCluster::init`] or
    /// `pg_basebackup`), not started; it listens on `port` once started.
    pub fn open(data: &Path, port: u16) -> PgCluster {
        PgCluster { data: data.to_owned(), port, running: false, options: Vec::new(), _temp: None }
    }

    /// Starts the server and waits until it accepts connections (`pg_ctl -w`).
    pub fn start(&mut self) {
        if let Err(why) = self.try_start() {
            panic!("{why}");
        }
    }

    fn try_start(&mut self) -> Result<(), String> {
        let log = self.data.join("server.log");
        let mut pg_ctl = program("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-t", "60", "-l"])
            .arg(&log)
            .arg("-o")
            .arg(format!(
                "-p {} -k {}{}",
                self.port,
                self.data.display(),
                self.options.iter().map(|o| format!(" -c {o}")).collect::<String>()
            ))
            .arg("start");
        let out = pg_ctl.output().unwrap();
        if !out.status.success() {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!(
                "pg_ctl start on port {} failed: {}{}\n--- server.log ---\n{log}",
                self.port,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        self.running = true;
        Ok(())
    }

    /// Adds a server setting (`name=value`, no spaces) for the next start; it lives on
    /// the command line only, not in the data directory.
    pub fn set_option(&mut self, setting: &str) {
        self.options.push(setting.to_owned());
    }

    /// Stops the server at once, as a crash would (`pg_ctl -m immediate`): no checkpoint,
    /// no goodbye to clients.
    pub fn kill(&mut self) {
        self.pg_ctl_stop("immediate");
        self.running = false;
    }

    /// `pg_ctl promote`: a standby becomes a primary that accepts writes; waits for it.
    pub fn promote(&self) {
        let mut pg_ctl = program("pg_ctl");
        pg_ctl.arg("-D").arg(&self.data).args(["-w", "-t", "60", "promote"]);
        run(pg_ctl);
    }

    /// A streaming standby of this (running) cluster in `data`, made with
    /// `pg_basebackup -R`, named `name` (its `application_name`, what
    /// `synchronous_standby_names` lists), not started.
    pub fn standby(&self, data: &Path, name: &str) -> PgCluster {
        std::fs::create_dir_all(data).unwrap();
        // The server refuses a data directory others may enter.
        std::fs::set_permissions(data, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        give_to_postgres(data);
        // Over the Unix socket, where the superuser is trusted (replication included); the
        // standby then follows its primary over the same socket.
        let mut backup = program("pg_basebackup");
        backup
            .arg("-h")
            .arg(&self.data)
            .args(["-p", &self.port.to_string(), "-U", "postgres", "-w"])
            .arg("-D")
            .arg(data)
            // A fast checkpoint: a spread one makes the copy wait minutes.
            .args(["-X", "stream", "--no-sync", "-R", "-c", "fast"])
            .arg("-d")
            .arg(format!("application_name={name}"));
        run(backup);
        PgCluster::open(data, free_port())
    }

    /// Whether this server is a standby (in recovery).
    pub fn in_recovery(&self) -> bool {
        self.psql("SELECT pg_is_in_recovery()") == "t"
    }

    /// Stops the server with a fast shutdown (clients are disconnected, transactions
    /// rolled back) and waits until it is down.
    pub fn stop(&mut self) {
        self.pg_ctl_stop("fast");
        self.running = false;
    }

    fn pg_ctl_stop(&self, mode: &str) -> Output {
        let mut pg_ctl = program("pg_ctl");
        pg_ctl.arg("-D").arg(&self.data).args(["-w", "-t", "60", "-m", mode, "stop"]);
        pg_ctl.output().unwrap()
    }

    /// The URL for the code under test: role [`USER`](Self::USER) on 127.0.0.1, without
    /// the password (give [`PASSWORD`](Self::PASSWORD) separately).
    pub fn url(&self) -> String {
        format!("postgresql://{}@127.0.0.1:{}/{}", Self::USER, self.port, Self::DATABASE)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// Runs SQL as the superuser over the Unix socket (in database `postgres`, or the
    /// test database once it exists); returns what `psql` printed (unaligned, tuples
    /// only).
    pub fn psql(&self, sql: &str) -> String {
        self.psql_in("postgres", sql)
    }

    /// [`psql`](Self::psql) in database `database`.
    pub fn psql_in(&self, database: &str, sql: &str) -> String {
        let mut psql = program("psql");
        psql.arg("-h")
            .arg(&self.data)
            .args(["-p", &self.port.to_string(), "-U", "postgres", "-d", database])
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]);
        String::from_utf8_lossy(&run(psql).stdout).trim().to_owned()
    }

    /// Waits (at most `limit`) until `pg_isready` says the server answers.
    pub fn wait_ready(&self, limit: Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
            let mut ready = program("pg_isready");
            ready.arg("-h").arg(&self.data).args(["-p", &self.port.to_string(), "-q"]);
            if ready.status().is_ok_and(|s| s.success()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the PostgreSQL server on port {} is not ready after {limit:?}", self.port);
    }
}

impl Default for PgCluster {
    fn default() -> Self {
        Self::new()
    }
}

/// When we are root: the server and its programs run as `postgres`, which must reach and
/// own `data` (a temporary directory is private to root).
fn give_to_postgres(data: &Path) {
    if !running_as_root() {
        return;
    }
    let mut parent = data.parent();
    while let Some(dir) = parent.filter(|d| d.starts_with(std::env::temp_dir())) {
        if dir == std::env::temp_dir() {
            break;
        }
        run(chmod_traversable(dir));
        parent = dir.parent();
    }
    let mut chown = Command::new("chown");
    chown.args(["-R", "postgres:postgres"]).arg(data);
    run(chown);
}

fn chmod_traversable(dir: &Path) -> Command {
    let mut chmod = Command::new("chmod");
    chmod.arg("a+x").arg(dir);
    chmod
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running {
            // Immediate: nothing in a test cluster is worth a checkpoint.
            let _ = self.pg_ctl_stop("immediate");
        }
    }
}
