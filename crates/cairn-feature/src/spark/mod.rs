//! The offline engine on Spark (`[offline] engine = "spark"`), through Spark Connect with
//! Apache's Rust client (`apache-spark-connect`). It computes a view (its source read, its
//! SQL, the typed projection, the filter and the sort) and the point-in-time join on the
//! server; the results come back as Arrow record batches and become polars frames with the
//! types the polars engine gives them, so that the offline table cairn writes from them is
//! the same file, byte for byte, as a polars materialization of the same data.
//!
//! The client's API is synchronous: it runs its own tokio runtime and must not be called
//! from inside another one (cairn's feature commands are not async).
//!
//! The server reads the project's files by their absolute paths (sources, offline tables, a
//! temporary copy of the entity table): a local server, or a cluster that mounts the project
//! at the same path. `docs/guide/scale.md` says how to set one up.
#![allow(
    clippy::result_large_err,
    reason = "the client's error type is large; it becomes cairn's at once"
)]

mod arrow_frame;
pub(crate) mod join;
pub(crate) mod view;

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use spark_connect::{SparkError, SparkSession, SparkSessionBuilder};

use crate::FeatureError;

/// How long the first TCP connection to the server may take before it counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The port of `sc://HOST` without one (Spark Connect's default).
const DEFAULT_PORT: u16 = 15002;

/// gRPC's UNAVAILABLE: the server went away (or never answered).
const GRPC_UNAVAILABLE: i32 = 14;

/// A session on a Spark Connect server.
pub(crate) struct Spark {
    session: SparkSession,
    remote: String,
}

impl Spark {
    /// Opens a session on `remote` (`sc://HOST:PORT`). The server is dialled first, so that a
    /// server that is not there is reported at once (the client itself would retry for
    /// minutes). The session computes in UTC, with
    /// case-sensitive column names (as polars).
    pub(crate) fn connect(remote: &str) -> Result<Self, FeatureError> {
        let unreachable = |message: String| FeatureError::SparkUnreachable {
            remote: remote.to_owned(),
            message,
        };
        let rest = remote.strip_prefix("sc://").unwrap_or(remote);
        let authority = rest.split('/').next().unwrap_or_default();
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(':') => (
                host,
                port.parse::<u16>()
                    .map_err(|_| unreachable(format!("`{port}` is not a port")))?,
            ),
            _ => (authority, DEFAULT_PORT),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<_> = (host, port)
            .to_socket_addrs()
            .map_err(|e| unreachable(e.to_string()))?
            .collect();
        let mut refused = None;
        let mut reached = false;
        for address in &addresses {
            match TcpStream::connect_timeout(address, CONNECT_TIMEOUT) {
                Ok(_) => {
                    reached = true;
                    break;
                }
                Err(e) => refused = Some(e),
            }
        }
        if !reached {
            return Err(unreachable(refused.map_or_else(
                || format!("{host} has no address"),
                |e| e.to_string(),
            )));
        }
        let session = SparkSessionBuilder::new()
            .remote(remote)
            .get_or_create()
            .map_err(|e| unreachable(e.message()))?;
        let spark = Spark {
            session,
            remote: remote.to_owned(),
        };
        // UTC, as every time cairn computes with; column names case-sensitive, as in polars.
        for (key, value) in [
            ("spark.sql.session.timeZone", "UTC"),
            ("spark.sql.caseSensitive", "true"),
        ] {
            spark
                .session
                .conf()
                .set(key, value)
                .map_err(|e| spark.error("", e))?;
        }
        Ok(spark)
    }

    /// A client error as cairn's: the server gone, or Spark's message about `view`'s query.
    fn error(&self, view: &str, e: SparkError) -> FeatureError {
        if e.grpc_code() == Some(GRPC_UNAVAILABLE) {
            FeatureError::SparkUnreachable {
                remote: self.remote.clone(),
                message: e.message(),
            }
        } else {
            FeatureError::Spark {
                view: view.to_owned(),
                message: first_line(&e.message()),
            }
        }
    }

    /// The SQL query's result, as the server sends it.
    fn collect(&self, view: &str, query: &str) -> Result<Vec<RecordBatch>, FeatureError> {
        self.session
            .sql(query)
            .and_then(|frame| frame.collect_record_batches())
            .map_err(|e| self.error(view, e))
    }

    /// The SQL query's result as a temporary view of the session.
    fn register(&self, view: &str, name: &str, query: &str) -> Result<(), FeatureError> {
        self.session
            .sql(query)
            .and_then(|frame| frame.create_or_replace_temp_view(name))
            .map_err(|e| self.error(view, e))
    }
}

/// An identifier quoted for Spark SQL.
fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The first line of Spark's message (the rest is the query plan), without the error class
/// the client repeats in front of the server's (`[X] [X] …`).
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default().trim();
    match line.split_once("] ") {
        Some((class, rest)) if rest.starts_with(&format!("{class}] ")) => rest.to_owned(),
        _ => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn spark_messages_keep_their_first_line_once() {
        assert_eq!(
            super::first_line(
                "[A.B] [A.B] No `x`. SQLSTATE: 42703; line 1 pos 24;\n'Project [x]\n+- View"
            ),
            "[A.B] No `x`. SQLSTATE: 42703; line 1 pos 24;"
        );
        assert_eq!(super::first_line("plain"), "plain");
        assert_eq!(super::first_line("[A] [B] two"), "[A] [B] two");
    }
}
