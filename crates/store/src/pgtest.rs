//! Test support: a real PostgreSQL server for tests, started in a temporary
//! directory with `initdb` and `pg_ctl`, or the one `ATTESTA_TEST_PG_URL`
//! names.
//!
//! Not used by the service itself; it lives in the library so the store's
//! conformance suite and the server's multi-node tests share one harness.
//!
//! * Binaries come from `pg_config --bindir`, `/usr/lib/postgresql/*/bin` or
//!   `PATH`. When none is found and the process runs as root, `apt-get
//!   install -y postgresql` is tried once (CI machines start fresh).
//! * `initdb` refuses to run as root: as root the server runs as the
//!   unprivileged `postgres` account (created if missing) through `runuser`,
//!   and the temporary directory is handed to that account.
//! * The server listens on a free loopback port and a socket in its own
//!   directory; each [`TempPostgres::database`] call creates a fresh
//!   database, so tests sharing one server do not see each other's rows.
//! * A watchdog process stops the server and removes its directory when the
//!   test process exits however it exits (a static is never dropped, and a
//!   panicking test must not leave a server running).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// A PostgreSQL server for tests.
pub struct TempPostgres {
    /// `postgres://user@127.0.0.1:port/` without a database name, or the
    /// given URL's server part.
    base_url: String,
    /// The data directory and binaries when this process started the server.
    local: Option<Local>,
}

struct Local {
    bindir: PathBuf,
    dir: PathBuf,
    port: u16,
    run_as: Option<String>,
}

static SHARED: OnceLock<Result<TempPostgres, String>> = OnceLock::new();
static DB_COUNTER: AtomicU32 = AtomicU32::new(0);
static INSTALL: Mutex<()> = Mutex::new(());

impl TempPostgres {
    /// The process-wide server: `ATTESTA_TEST_PG_URL` when set, else one
    /// started on first use. Errors say why PostgreSQL is not available.
    pub fn shared() -> Result<&'static TempPostgres, String> {
        SHARED
            .get_or_init(|| match std::env::var("ATTESTA_TEST_PG_URL") {
                Ok(url) if !url.trim().is_empty() => Ok(TempPostgres {
                    base_url: strip_database(url.trim()),
                    local: None,
                }),
                _ => TempPostgres::start(),
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A server of its own, which the caller may stop and start again.
    pub fn start() -> Result<TempPostgres, String> {
        Self::start_with(None)
    }

    /// A server of its own that speaks TLS with `cert_pem` (the chain) and
    /// `key_pem`, and refuses unencrypted TCP connections to every database
    /// but the `postgres` one this harness creates databases through.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Result<TempPostgres, String> {
        Self::start_with(Some((cert_pem, key_pem)))
    }

    fn start_with(tls: Option<(&str, &str)>) -> Result<TempPostgres, String> {
        let bindir = find_bindir()?;
        let run_as = if is_root() {
            ensure_user("postgres")?;
            Some("postgres".to_string())
        } else {
            None
        };
        let dir = std::env::temp_dir().join(format!(
            "attesta-pg-{}-{}",
            std::process::id(),
            DB_COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if let Some(user) = &run_as {
            run(Command::new("chown").arg("-R").arg(user).arg(&dir))?;
        }
        let port = free_port()?;
        let local = Local {
            bindir,
            dir,
            port,
            run_as,
        };
        local.run_pg(
            "initdb",
            &[
                "-D",
                &local.data().to_string_lossy(),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
        )?;
        if let Some((cert, key)) = tls {
            local.enable_tls(cert, key)?;
        }
        spawn_watchdog(&local);
        local.start()?;
        Ok(TempPostgres {
            base_url: format!("postgres://postgres@127.0.0.1:{port}/"),
            local: Some(local),
        })
    }

    /// A primary and a streaming-replication standby of it (its own
    /// directory and port, made with `pg_basebackup -R`). Once the standby
    /// streams, the primary commits synchronously to it
    /// (`synchronous_standby_names = '*'`), so every acknowledged write is
    /// on the standby. [`Self::failover_url`] names both.
    pub fn start_pair() -> Result<(TempPostgres, TempPostgres), String> {
        let primary = TempPostgres::start()?;
        let p = primary.local.as_ref().expect("started here");
        let dir = p.dir.with_file_name(format!(
            "{}-standby",
            p.dir.file_name().unwrap_or_default().to_string_lossy()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if let Some(user) = &p.run_as {
            run(Command::new("chown").arg("-R").arg(user).arg(&dir))?;
        }
        let standby = Local {
            bindir: p.bindir.clone(),
            dir,
            port: free_port()?,
            run_as: p.run_as.clone(),
        };
        standby.run_pg(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &p.port.to_string(),
                "-U",
                "postgres",
                "-D",
                &standby.data().to_string_lossy(),
                "-R",
                "-X",
                "stream",
                "--no-sync",
            ],
        )?;
        spawn_watchdog(&standby);
        standby.start()?;
        let standby = TempPostgres {
            base_url: format!("postgres://postgres@127.0.0.1:{}/", standby.port),
            local: Some(standby),
        };
        // Wait until the standby streams, then make commits wait for it.
        let admin = format!("{}postgres", primary.base_url);
        blocking_sql(
            &admin,
            "DO $$ BEGIN \
               FOR i IN 1..600 LOOP \
                 EXIT WHEN EXISTS (SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'); \
                 PERFORM pg_sleep(0.1); \
               END LOOP; \
               IF NOT EXISTS (SELECT 1 FROM pg_stat_replication WHERE state = 'streaming') THEN \
                 RAISE EXCEPTION 'the standby never started streaming'; \
               END IF; \
             END $$",
        )?;
        blocking_sql(&admin, "ALTER SYSTEM SET synchronous_standby_names = '*'")?;
        blocking_sql(&admin, "SELECT pg_reload_conf()")?;
        Ok((primary, standby))
    }

    /// `database`'s URL on both servers, the writable one chosen at connect
    /// time (`target_session_attrs=read-write`), as a deployment with a
    /// standby configures it.
    pub fn failover_url(&self, standby: &TempPostgres, database_url: &str) -> String {
        let name = database_url.rsplit('/').next().unwrap_or_default();
        let host = |t: &TempPostgres| {
            t.base_url
                .trim_start_matches("postgres://postgres@")
                .trim_end_matches('/')
                .to_string()
        };
        format!(
            "postgres://postgres@{},{}/{name}?target_session_attrs=read-write",
            host(self),
            host(standby)
        )
    }

    /// Promotes this standby to a primary (`pg_ctl promote`).
    pub fn promote(&self) -> Result<(), String> {
        let local = self
            .local
            .as_ref()
            .ok_or("this server was not started here")?;
        local.run_pg(
            "pg_ctl",
            &["-D", &local.data().to_string_lossy(), "-w", "promote"],
        )
    }

    /// The URL of a new, empty database on this server.
    pub fn database(&self) -> Result<String, String> {
        let name = format!(
            "attesta_t{}_{}",
            std::process::id(),
            DB_COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let admin = format!("{}postgres", self.base_url);
        let sql = format!("CREATE DATABASE {name}");
        // Own thread and runtime: the caller may be inside a runtime already.
        std::thread::scope(|s| {
            s.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                rt.block_on(async {
                    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                        .await
                        .map_err(|e| format!("connecting to {admin}: {e}"))?;
                    let task = tokio::spawn(conn);
                    client
                        .batch_execute(&sql)
                        .await
                        .map_err(|e| format!("{sql}: {e}"))?;
                    drop(client);
                    let _ = task.await;
                    Ok::<(), String>(())
                })
            })
            .join()
            .map_err(|_| "creating the test database panicked".to_string())?
        })?;
        Ok(format!("{}{name}", self.base_url))
    }

    /// Stops the server fast (as a crash would), keeping its data.
    pub fn stop(&self) -> Result<(), String> {
        let local = self
            .local
            .as_ref()
            .ok_or("this server was not started here")?;
        local.run_pg(
            "pg_ctl",
            &[
                "-D",
                &local.data().to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        )
    }

    /// Starts the stopped server again on the same port.
    pub fn restart(&self) -> Result<(), String> {
        self.local
            .as_ref()
            .ok_or("this server was not started here")?
            .start()
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        if let Some(local) = &self.local {
            let _ = local.run_pg(
                "pg_ctl",
                &[
                    "-D",
                    &local.data().to_string_lossy(),
                    "-m",
                    "immediate",
                    "stop",
                ],
            );
            let _ = std::fs::remove_dir_all(&local.dir);
        }
    }
}

impl Local {
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Certificate and key in the data directory, `ssl = on`, and a
    /// pg_hba.conf that takes TCP connections only over TLS (but for the
    /// harness's own `postgres` database).
    fn enable_tls(&self, cert_pem: &str, key_pem: &str) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        let data = self.data();
        let write = |name: &str, text: &str| {
            let path = data.join(name);
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if let Some(user) = &self.run_as {
                run(Command::new("chown").arg(user).arg(&path))?;
            }
            Ok::<(), String>(())
        };
        write("server.crt", cert_pem)?;
        write("server.key", key_pem)?;
        write(
            "pg_hba.conf",
            "local all all trust\n\
             host postgres all 127.0.0.1/32 trust\n\
             hostssl all all 127.0.0.1/32 trust\n",
        )?;
        let conf = data.join("postgresql.conf");
        let mut text =
            std::fs::read_to_string(&conf).map_err(|e| format!("{}: {e}", conf.display()))?;
        text.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        std::fs::write(&conf, text).map_err(|e| format!("{}: {e}", conf.display()))
    }

    fn start(&self) -> Result<(), String> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        self.run_pg(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-l",
                &self.dir.join("log").to_string_lossy(),
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
    }

    fn run_pg(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let bin = self.bindir.join(program);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(user).arg("--").arg(&bin);
                c
            }
            None => Command::new(&bin),
        };
        cmd.args(args).current_dir(&self.dir);
        run(&mut cmd)
    }
}

/// Runs `sql` on `url` from a thread and runtime of its own.
fn blocking_sql(url: &str, sql: &str) -> Result<(), String> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .map_err(|e| format!("connecting to {url}: {e}"))?;
                let task = tokio::spawn(conn);
                client
                    .batch_execute(sql)
                    .await
                    .map_err(|e| format!("{sql}: {e}"))?;
                drop(client);
                let _ = task.await;
                Ok::<(), String>(())
            })
        })
        .join()
        .map_err(|_| "running SQL panicked".to_string())?
    })
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn ensure_user(user: &str) -> Result<(), String> {
    if Command::new("id")
        .arg(user)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        return Ok(());
    }
    run(Command::new("useradd")
        .arg("--system")
        .arg("--no-create-home")
        .arg(user))
}

fn has_initdb(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("pg_ctl").is_file()
}

fn locate_bindir() -> Option<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_initdb(&dir) {
            return Some(dir);
        }
    }
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .filter(|d| has_initdb(d))
            .collect();
        dirs.sort();
        if let Some(d) = dirs.pop() {
            return Some(d);
        }
    }
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).find(|d| has_initdb(d)))
}

fn find_bindir() -> Result<PathBuf, String> {
    let _guard = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(d) = locate_bindir() {
        return Ok(d);
    }
    if is_root() {
        let _ = Command::new("apt-get")
            .args(["update", "-qq"])
            .stdout(Stdio::null())
            .status();
        let _ = Command::new("apt-get")
            .args(["install", "-y", "-qq", "postgresql"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status();
        if let Some(d) = locate_bindir() {
            return Ok(d);
        }
    }
    Err(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found via pg_config --bindir, \
         /usr/lib/postgresql/*/bin or PATH; install them (apt-get install postgresql) or set \
         ATTESTA_TEST_PG_URL to a server's URL"
            .into(),
    )
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Stops the server and removes its directory once this process is gone.
fn spawn_watchdog(local: &Local) {
    let pg_ctl = local.bindir.join("pg_ctl");
    let stop = match &local.run_as {
        Some(user) => format!(
            "runuser -u {user} -- '{}' -D '{}' -m immediate stop",
            pg_ctl.display(),
            local.data().display()
        ),
        None => format!(
            "'{}' -D '{}' -m immediate stop",
            pg_ctl.display(),
            local.data().display()
        ),
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        dir = local.dir.display()
    );
    let _ = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// `postgres://host/db?x` → `postgres://host/` (keeps no query: test URLs
/// are simple).
fn strip_database(url: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    match url[scheme_end..].find('/') {
        Some(i) => url[..scheme_end + i + 1].to_string(),
        None => format!("{url}/"),
    }
}
