//! The embedded Postgres gives the application a role of its own: owner of
//! the app database, no superuser; data dirs made before that role existed
//! are handed over to it on start.

use std::os::unix::fs::PermissionsExt;

use ciphertalk_gateway::db;
use ciphertalk_gateway::embedded::EmbeddedPostgres;

use crate::support::temp_dir;

/// The connection's role, whether it is a superuser, and who owns the database.
async fn whoami(pool: &sqlx::PgPool) -> (String, bool, String) {
    sqlx::query_as(
        "SELECT current_user::text, r.rolsuper, pg_get_userbyid(d.datdba)::text
         FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_app_connects_as_the_database_owner_without_superuser_also_on_an_old_data_dir() {
    let dir = temp_dir("pg-role");
    let options = crate::support::postgres_options(dir.path().join("postgres"), "ciphertalk", 20);
    let mut postgres = EmbeddedPostgres::start(options.clone()).await.unwrap();
    let app = db::connect(&postgres.url(), 2).await.unwrap();
    assert_eq!(whoami(&app).await, ("ciphertalk".to_owned(), false, "ciphertalk".to_owned()));
    app.close().await;

    // Today's data dirs: the database and every table made by and owned by the superuser.
    let admin = db::connect(&postgres.admin_url(), 2).await.unwrap();
    db::migrate(&admin).await.unwrap();
    sqlx::query("ALTER DATABASE ciphertalk OWNER TO postgres").execute(&admin).await.unwrap();
    sqlx::query("DROP ROLE ciphertalk").execute(&admin).await.unwrap();
    admin.close().await;
    postgres.stop().unwrap();
    // A password file loosened meanwhile (a copy, a restore) is made private again.
    let password = dir.path().join("postgres/password");
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o644)).unwrap();

    let postgres = EmbeddedPostgres::start(options).await.unwrap();
    assert_eq!(std::fs::metadata(&password).unwrap().permissions().mode() & 0o777, 0o600);
    let app = db::connect(&postgres.url(), 2).await.unwrap();
    assert_eq!(whoami(&app).await, ("ciphertalk".to_owned(), false, "ciphertalk".to_owned()));
    db::migrate(&app).await.unwrap();
    sqlx::query("INSERT INTO relay_cursor (name, tx, pos) VALUES ('handed-over', 1, 1)")
        .execute(&app)
        .await
        .unwrap();
    let not_owned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) <> 'ciphertalk'",
    )
    .fetch_one(&app)
    .await
    .unwrap();
    assert_eq!(not_owned, 0);
    assert!(sqlx::query("CREATE ROLE intruder SUPERUSER").execute(&app).await.is_err());
    app.close().await;
}
