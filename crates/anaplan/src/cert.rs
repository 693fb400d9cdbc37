//! Certificate authentication: an X.509 certificate and its RSA private key sign random
//! bytes with SHA512withRSA, as `/token/authenticate` expects.

use std::time::UNIX_EPOCH;

use aws_lc_rs::rand::SecureRandom as _;
use aws_lc_rs::signature::{RSA_PKCS1_SHA512, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use runwait_core::token::CertificateAuthRequest;

use crate::{Clock, Error, Secret};

/// The layout of the signed bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EncodedDataFormat {
    /// 100 random bytes.
    V1,
    /// An 8-byte big-endian timestamp (seconds since the epoch), then 100 random bytes.
    #[default]
    V2,
}

/// Certificate credentials: the PEM certificate and its private key.
pub struct CertificateAuth {
    /// The certificate's DER in base64: the body of the PEM, as Anaplan's examples send it.
    certificate_base64: String,
    key: RsaKeyPair,
    format: EncodedDataFormat,
    clock: std::sync::Arc<dyn Clock>,
}

impl std::fmt::Debug for CertificateAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuth")
            .field("key", &"***")
            .field("format", &self.format)
            .finish()
    }
}

const RANDOM_BYTES: usize = 100;

impl CertificateAuth {
    /// Reads a PEM certificate and a PEM private key: PKCS#8 (`PRIVATE KEY`), PKCS#1
    /// (`RSA PRIVATE KEY`) or encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`, which needs
    /// `passphrase`).
    pub fn from_pem(
        certificate_pem: &str,
        key_pem: &str,
        passphrase: Option<&Secret>,
        format: EncodedDataFormat,
    ) -> Result<Self, Error> {
        let certs = pem::parse_many(certificate_pem)
            .map_err(|e| Error::Credentials(format!("the certificate is not PEM: {e}")))?;
        let cert = certs
            .iter()
            .find(|p| p.tag() == "CERTIFICATE")
            .ok_or_else(|| {
                Error::Credentials("no `BEGIN CERTIFICATE` block in the certificate file".into())
            })?;
        Ok(CertificateAuth {
            certificate_base64: BASE64.encode(cert.contents()),
            key: read_key(key_pem, passphrase)?,
            format,
            clock: std::sync::Arc::new(crate::SystemClock),
        })
    }

    /// Reads the certificate and key from files.
    pub fn from_files(
        certificate: &std::path::Path,
        key: &std::path::Path,
        passphrase: Option<&Secret>,
        format: EncodedDataFormat,
    ) -> Result<Self, Error> {
        let read = |p: &std::path::Path, what: &str| {
            std::fs::read_to_string(p).map_err(|e| {
                Error::Credentials(format!("cannot read the {what} {}: {e}", p.display()))
            })
        };
        Self::from_pem(
            &read(certificate, "certificate")?,
            &read(key, "private key")?,
            passphrase,
            format,
        )
    }

    /// Uses `clock` for the v2 timestamp.
    pub fn with_clock(mut self, clock: std::sync::Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The `Authorization` header and JSON body of one login.
    pub(crate) fn login_request(&self) -> Result<(Secret, Vec<u8>), Error> {
        let mut data = Vec::with_capacity(8 + RANDOM_BYTES);
        if self.format == EncodedDataFormat::V2 {
            let secs = self
                .clock
                .now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            data.extend_from_slice(&secs.to_be_bytes());
        }
        let mut random = [0u8; RANDOM_BYTES];
        aws_lc_rs::rand::SystemRandom::new()
            .fill(&mut random)
            .map_err(|_| {
                Error::Credentials("no randomness available for the certificate login".into())
            })?;
        data.extend_from_slice(&random);
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA512,
                &aws_lc_rs::rand::SystemRandom::new(),
                &data,
                &mut signature,
            )
            .map_err(|_| Error::Credentials("signing with the private key failed".into()))?;
        let body = CertificateAuthRequest {
            encoded_data: BASE64.encode(&data),
            encoded_signed_data: BASE64.encode(&signature),
            encoded_data_format: (self.format == EncodedDataFormat::V2).then(|| "v2".to_owned()),
        };
        let body = serde_json::to_vec(&body).map_err(|e| Error::Credentials(e.to_string()))?;
        let header = Secret::new(format!("CACertificate {}", self.certificate_base64));
        Ok((header, body))
    }
}

fn read_key(key_pem: &str, passphrase: Option<&Secret>) -> Result<RsaKeyPair, Error> {
    let blocks = pem::parse_many(key_pem)
        .map_err(|e| Error::Credentials(format!("the private key is not PEM: {e}")))?;
    fn rejected(what: &'static str) -> impl Fn(aws_lc_rs::error::KeyRejected) -> Error {
        move |e| Error::Credentials(format!("{what} rejected: {e}"))
    }
    for block in &blocks {
        match block.tag() {
            "PRIVATE KEY" => {
                return RsaKeyPair::from_pkcs8(block.contents())
                    .map_err(rejected("PKCS#8 RSA key"));
            }
            "RSA PRIVATE KEY"
                if block
                    .headers()
                    .get("Proc-Type")
                    .is_some_and(|v| v.contains("ENCRYPTED")) =>
            {
                return Err(Error::Credentials(
                    "legacy OpenSSL-encrypted PKCS#1 keys are not supported: convert with `openssl pkcs8 -topk8 -in key.pem -out key.p8.pem`"
                        .into(),
                ));
            }
            "RSA PRIVATE KEY" => {
                return RsaKeyPair::from_der(block.contents()).map_err(rejected("PKCS#1 RSA key"));
            }
            "ENCRYPTED PRIVATE KEY" => {
                let passphrase = passphrase.ok_or_else(|| {
                    Error::Credentials(
                        "the private key is encrypted: a passphrase is needed".into(),
                    )
                })?;
                let info = pkcs8::EncryptedPrivateKeyInfo::try_from(block.contents())
                    .map_err(|e| Error::Credentials(format!("encrypted key unreadable: {e}")))?;
                let der = info.decrypt(passphrase.expose()).map_err(|_| {
                    Error::Credentials("cannot decrypt the private key: wrong passphrase?".into())
                })?;
                return RsaKeyPair::from_pkcs8(der.as_bytes())
                    .map_err(rejected("decrypted PKCS#8 RSA key"));
            }
            _ => {}
        }
    }
    Err(Error::Credentials(
        "no private key block (`PRIVATE KEY`, `RSA PRIVATE KEY` or `ENCRYPTED PRIVATE KEY`) in the key file".into(),
    ))
}
