//! TLS for the daemon's network channels (OpenFlow `pssl:`/`ssl:`, etcd
//! `https://`): rustls with the ring provider; a private key, a
//! certificate chain and a CA file in PEM, as `ovs-ofctl` and etcd take
//! them. Both ends are always authenticated: a listener asks every client
//! for a certificate the CA signed, and a dialler presents its own.

use anyhow::{bail, Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The three files of one channel's TLS, and the flags they came from
/// (errors name the flag).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub key: PathBuf,
    pub cert: PathBuf,
    pub ca: PathBuf,
    /// The flags' common prefix, e.g. `--openflow` for
    /// `--openflow-private-key`.
    pub flags: [&'static str; 3],
}

/// Keys and trust, read once at start.
#[derive(Debug)]
pub struct Tls {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

fn read(path: &Path, flag: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{flag}: cannot read {}", path.display()))
}

impl Tls {
    /// Reads and checks the files: a key, at least one certificate, at
    /// least one CA certificate.
    pub fn load(f: &TlsFiles) -> Result<Tls> {
        let [key_flag, cert_flag, ca_flag] = f.flags;
        let key = PrivateKeyDer::from_pem_slice(&read(&f.key, key_flag)?).map_err(|e| {
            anyhow::anyhow!(
                "{key_flag}: {}: no private key in PEM ({e})",
                f.key.display()
            )
        })?;
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&read(&f.cert, cert_flag)?)
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow::anyhow!("{cert_flag}: {}: {e}", f.cert.display()))?;
        if chain.is_empty() {
            bail!("{cert_flag}: {}: no certificate in PEM", f.cert.display());
        }
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&read(&f.ca, ca_flag)?) {
            let c = c.map_err(|e| anyhow::anyhow!("{ca_flag}: {}: {e}", f.ca.display()))?;
            roots
                .add(c)
                .map_err(|e| anyhow::anyhow!("{ca_flag}: {}: {e}", f.ca.display()))?;
        }
        if roots.is_empty() {
            bail!("{ca_flag}: {}: no CA certificate in PEM", f.ca.display());
        }
        let tls = Tls {
            chain,
            key,
            roots: Arc::new(roots),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        };
        // Building both configs checks the key matches the certificate.
        tls.server_config()
            .with_context(|| format!("{key_flag}/{cert_flag}"))?;
        Ok(tls)
    }

    /// A listener's: clients must present a certificate the CA signed.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>> {
        let verifier = WebPkiClientVerifier::builder_with_provider(
            Arc::clone(&self.roots),
            Arc::clone(&self.provider),
        )
        .build()
        .context("the CA file cannot verify clients")?;
        let c = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .context("TLS versions")?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .context("the private key does not go with the certificate")?;
        Ok(Arc::new(c))
    }

    /// A dialler's: it presents its certificate and verifies the server's
    /// chain against the CA. With `check_name` false the server's name is
    /// not checked (Open vSwitch's rule for controllers: the CA, not the
    /// address, says who may control the switch).
    pub fn client_config(&self, check_name: bool) -> Result<Arc<ClientConfig>> {
        let webpki = WebPkiServerVerifier::builder_with_provider(
            Arc::clone(&self.roots),
            Arc::clone(&self.provider),
        )
        .build()
        .context("the CA file cannot verify servers")?;
        let verifier: Arc<dyn ServerCertVerifier> = if check_name {
            webpki
        } else {
            Arc::new(SignedByCa(webpki))
        };
        let c = ClientConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .context("TLS versions")?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())
            .context("the private key does not go with the certificate")?;
        Ok(Arc::new(c))
    }
}

/// The server name to ask for when dialling `host` (an IP or a DNS name).
pub fn server_name(host: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(host.to_string())
        .map_err(|_| anyhow::anyhow!("'{host}' is neither an IP address nor a host name"))
}

/// A server verifier that checks the chain, dates and signatures against
/// the CA, but not the name in the certificate.
#[derive(Debug)]
struct SignedByCa(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for SignedByCa {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The chain is checked before the name: a name error means the
        // chain, dates and usage were good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
