//! Says loudly whether this run exercised PostgreSQL. The suite runs on SQLite by
//! default; `.ci/run` runs it again with `DATABASE_URL=postgres://...`. In CI
//! (`CI=true`), a PostgreSQL server must be reachable.

use diesel::Connection;

fn probe_url() -> Option<String> {
    crate::support::postgres_base_url().or_else(|| std::env::var("CHATCTL_TEST_POSTGRES_URL").ok())
}

#[test]
fn postgres_is_available_or_the_skip_is_loud() {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    match probe_url() {
        Some(url) => {
            if let Err(err) = diesel::PgConnection::establish(&url) {
                panic!("PostgreSQL at DATABASE_URL is not reachable: {err}");
            }
        }
        None if in_ci => panic!("CI=true but no PostgreSQL URL: .ci/run must set CHATCTL_TEST_POSTGRES_URL"),
        None => eprintln!(
            "\n*** SKIPPED: PostgreSQL tests. This run used SQLite only. To run the suite on PostgreSQL:\n\
             ***   DATABASE_URL=postgres://USER:PASS@127.0.0.1/postgres cargo test\n"
        ),
    }
}
