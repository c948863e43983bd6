//! The admin API: providers, signing keys, collateral and the audit log.
//! Every route needs the admin token (`Authorization: Bearer <token>`).
//!
//! - `GET /admin/providers` — list
//! - `POST /admin/providers` — create: `{"name", "trust_model": "aad"|"isolated",
//!   "aad_tokens": [..], "policy_certificates": ["<PEM>", ..]}`; an isolated
//!   provider needs at least one policy-management certificate
//! - `GET /admin/providers/{name}`, `DELETE /admin/providers/{name}`,
//!   `PATCH /admin/providers/{name}` (`{"config"?, "aad_tokens"?}`)
//! - `GET /admin/keys`, `POST /admin/keys:rotate`
//! - `POST /admin/collateral` (a DCAP bundle), `POST /admin/collateral/snp`
//!   (SEV-SNP endorsement files)
//! - `GET /admin/audit?after=SEQ&limit=N`, `GET /admin/audit/checkpoints?after=SEQ&limit=N`
//!   (the audit log, see [`crate::audit`]); every change above is recorded there
//! - `GET /admin/collateral` (`?after=ID&limit=N`: a page of cached
//!   collateral), `GET /admin/collateral/{id}`, `DELETE /admin/collateral/{id}`
//!
//! One module per resource: [`providers`], [`keys`], [`collateral`],
//! [`audit`].

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

mod audit;
mod collateral;
mod keys;
mod providers;

/// The caller of every admin route: the admin token is the only credential.
const ADMIN: &str = "admin";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/providers",
            get(providers::list).post(providers::create),
        )
        .route(
            "/admin/providers/{name}",
            get(providers::show)
                .delete(providers::delete)
                .patch(providers::update),
        )
        .route("/admin/keys", get(keys::keys))
        .route("/admin/keys:rotate", post(keys::rotate))
        .route(
            "/admin/collateral",
            get(collateral::list_collateral).post(collateral::import_collateral),
        )
        .route("/admin/collateral/snp", post(collateral::import_snp))
        .route(
            "/admin/collateral/{id}",
            get(collateral::show_collateral).delete(collateral::delete_collateral),
        )
        .route("/admin/audit", get(audit::audit_records))
        .route("/admin/audit/checkpoints", get(audit::audit_checkpoints))
}
