//! `attesta migrate` on SQLite and on a real PostgreSQL, and `serve`
//! refusing a schema it was not allowed to migrate.

use std::process::Command;

use attesta_store::pgtest::TempPostgres;

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_attesta"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("ATTESTA_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn latest() -> String {
    attesta_store::migrations::latest_version().to_string()
}

#[test]
fn migrate_creates_checks_and_serve_refuses_an_unmigrated_store() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();

    // No database yet: --check says so (exit 1) and creates nothing.
    let (code, _, err) = run(&["migrate", "--data-dir", d, "--check"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no database there yet"), "{err}");
    assert!(!data.exists());

    // serve with auto_migrate off refuses to start, naming the fix.
    let (code, _, err) = run(
        &["serve", "--data-dir", d, "--listen", "127.0.0.1:0"],
        &[("ATTESTA_STORE__AUTO_MIGRATE", "false")],
    );
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("run `attesta migrate` first"), "{err}");

    // migrate brings it to this build's version; again is a no-op.
    let (code, out, err) = run(&["migrate", "--data-dir", d], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("migrated from version 0 to {}", latest())),
        "{out}"
    );
    let (code, out, err) = run(&["migrate", "--data-dir", d, "--check"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("nothing to do"), "{out}");

    // An unknown store scheme is a usage error, for migrate and serve alike.
    let (code, _, err) = run(&["migrate", "--store", "mysql://db/x"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("names no store Attesta knows"), "{err}");
    let (code, _, err) = run(&["serve", "--data-dir", d, "--store", "mysql://db/x"], &[]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("names no store Attesta knows"), "{err}");

    // --store names another SQLite file for both commands.
    let other = tmp.path().join("other.db");
    let url = format!("sqlite:{}", other.display());
    let (code, _, err) = run(&["migrate", "--data-dir", d, "--store", &url], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(other.exists());
}

#[test]
fn migrate_on_postgresql_hides_the_password_and_is_idempotent() {
    let pg = TempPostgres::shared().expect("PostgreSQL for tests");
    let url = pg.database().unwrap();
    let (code, _, err) = run(&["migrate", "--store", &url, "--check"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("schema version 0 is older"), "{err}");
    let (code, out, err) = run(&["migrate", "--store", &url], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("migrated from version 0 to {}", latest())),
        "{out}"
    );
    let (code, out, err) = run(&["migrate", "--store", &url, "--check"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("nothing to do"), "{out}");

    // A database that cannot be reached is exit 3, and a password in the
    // URL never reaches the output.
    let (code, out, err) = run(
        &["migrate", "--store", "postgres://u:hunter2@127.0.0.1:1/x"],
        &[],
    );
    assert_eq!(code, 3, "{err}");
    assert!(
        !out.contains("hunter2") && !err.contains("hunter2"),
        "{err}"
    );
    assert!(err.contains("unreachable"), "{err}");
}
