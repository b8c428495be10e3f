//! SQL to TiDB for the GC-lifetime guard: read and write `tikv_gc_life_time` in
//! `mysql.tidb`, with the account of `spec.from` and client TLS when the cluster uses it.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{ClientIdentity, Conn, OptsBuilder, SslOpts};

use crate::reconcile::gc::GC_VARIABLE;

/// PEM material for client TLS to TiDB (the keys of a TiDB client TLS secret).
#[derive(Clone, Default)]
pub struct TlsMaterial {
    /// `ca.crt`: verifies TiDB's certificate.
    pub ca: Vec<u8>,
    /// `tls.crt` and `tls.key`: the client certificate, when TiDB asks for one.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for TlsMaterial {
    // Never print the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("ca_bytes", &self.ca.len())
            .field("client_identity", &self.identity.is_some())
            .finish()
    }
}

/// Where and as whom to connect.
#[derive(Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub tls: Option<TlsMaterial>,
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// A failed SQL step, with what was attempted.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("cannot connect to TiDB at {address} as {user}: {source}")]
    Connect {
        address: String,
        user: String,
        #[source]
        source: mysql_async::Error,
    },
    #[error("connecting to TiDB at {address} timed out after {timeout:?}")]
    ConnectTimeout { address: String, timeout: Duration },
    #[error(
        "cannot read {GC_VARIABLE} from mysql.tidb: {0} (the account needs SELECT on mysql.tidb)"
    )]
    Read(#[source] mysql_async::Error),
    #[error("mysql.tidb has no {GC_VARIABLE} row")]
    Missing,
    #[error(
        "cannot set {GC_VARIABLE} in mysql.tidb to {value:?}: {source} (the account needs UPDATE on mysql.tidb)"
    )]
    Write {
        value: String,
        #[source]
        source: mysql_async::Error,
    },
}

impl SqlError {
    /// TiDB Operator's condition reason for this failure.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Connect { .. } | Self::ConnectTimeout { .. } => "ConnectTidbFailed",
            Self::Read(_) | Self::Missing => "GetTikvGCLifeTimeFailed",
            Self::Write { .. } => "SetTikvGCLifeTimeFailed",
        }
    }
}

/// A connection used to read and write the GC life time.
pub struct GcLifeTime {
    conn: Conn,
}

impl GcLifeTime {
    pub async fn connect(endpoint: &Endpoint) -> Result<Self, SqlError> {
        let address = format!("{}:{}", endpoint.host, endpoint.port);
        let mut opts = OptsBuilder::default()
            .ip_or_hostname(endpoint.host.clone())
            .tcp_port(endpoint.port)
            .user(Some(endpoint.user.clone()))
            .pass(Some(endpoint.password.clone()))
            .db_name(Some("mysql"))
            // Never switch to a local socket: TiDB is remote.
            .prefer_socket(false);
        if let Some(tls) = &endpoint.tls {
            let mut ssl = SslOpts::default().with_root_certs(vec![tls.ca.clone().into()]);
            if let Some((cert, key)) = &tls.identity {
                ssl = ssl.with_client_identity(Some(ClientIdentity::new(
                    cert.clone().into(),
                    key.clone().into(),
                )));
            }
            opts = opts.ssl_opts(Some(ssl));
        }
        let connect = Conn::new(opts);
        match tokio::time::timeout(endpoint.connect_timeout, connect).await {
            Ok(Ok(conn)) => Ok(Self { conn }),
            Ok(Err(source)) => Err(SqlError::Connect {
                address,
                user: endpoint.user.clone(),
                source,
            }),
            Err(_) => Err(SqlError::ConnectTimeout {
                address,
                timeout: endpoint.connect_timeout,
            }),
        }
    }

    /// The current value, e.g. `10m0s`.
    pub async fn read(&mut self) -> Result<String, SqlError> {
        let value: Option<String> = self
            .conn
            .exec_first(
                "SELECT VARIABLE_VALUE FROM mysql.tidb WHERE VARIABLE_NAME = ?",
                (GC_VARIABLE,),
            )
            .await
            .map_err(SqlError::Read)?;
        value.ok_or(SqlError::Missing)
    }

    pub async fn write(&mut self, value: &str) -> Result<(), SqlError> {
        self.conn
            .exec_drop(
                "UPDATE mysql.tidb SET VARIABLE_VALUE = ? WHERE VARIABLE_NAME = ?",
                (value, GC_VARIABLE),
            )
            .await
            .map_err(|source| SqlError::Write {
                value: value.to_owned(),
                source,
            })
    }

    /// Closes the connection politely (errors are irrelevant by then).
    pub async fn close(self) {
        let _ = self.conn.disconnect().await;
    }
}
