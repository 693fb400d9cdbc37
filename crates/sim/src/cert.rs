//! Certificate login: the SHA512withRSA (PKCS#1 v1.5) signature over the decoded
//! `encodedData` must verify against the public key of the certificate sent in
//! `Authorization: CACertificate <certificate>`.
//!
//! Anaplan's examples send the base64 DER (the body of the PEM, `MIIF…`); its help page
//! says "base64-encoded certificate in pem format", which some clients read as base64
//! of the whole PEM text. Both are accepted.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA512, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use runwait_core::token::CertificateAuthRequest;
use x509_cert::Certificate;
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::spki::ObjectIdentifier;

/// At least this many random bytes must be signed (Anaplan's rule).
const MIN_RANDOM: usize = 100;
/// `encodedDataFormat: "v2"` prefixes the random bytes with an 8-byte timestamp.
const V2_PREFIX: usize = 8;
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Who the certificate names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    /// The subject as RFC 4514 text.
    pub(crate) subject: String,
    /// SHA-256 of the certificate's DER, uppercase hex without colons.
    pub(crate) sha256: String,
}

/// Why a certificate login was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum CertError {
    #[error("the certificate header is not a base64 DER or PEM certificate: {0}")]
    Certificate(String),
    #[error("the certificate's key is not RSA")]
    NotRsa,
    #[error("`{0}` is not base64")]
    Base64(&'static str),
    #[error("encodedDataFormat `{0}` is not supported (expected v2 or none)")]
    Format(String),
    #[error("encodedData must hold at least {0} bytes")]
    TooShort(usize),
    #[error("the signature does not verify against the certificate's key")]
    BadSignature,
}

pub(crate) fn verify(
    encoded: &str,
    request: &CertificateAuthRequest,
) -> Result<Identity, CertError> {
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|e| CertError::Certificate(e.to_string()))?;
    let cert = if bytes.starts_with(b"-----BEGIN") {
        Certificate::from_pem(&bytes)
    } else {
        Certificate::from_der(&bytes)
    }
    .map_err(|e| CertError::Certificate(e.to_string()))?;
    let spki = &cert.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid != RSA_ENCRYPTION {
        return Err(CertError::NotRsa);
    }
    let data = STANDARD
        .decode(&request.encoded_data)
        .map_err(|_| CertError::Base64("encodedData"))?;
    let signature = STANDARD
        .decode(&request.encoded_signed_data)
        .map_err(|_| CertError::Base64("encodedSignedData"))?;
    let min = match request.encoded_data_format.as_deref() {
        None => MIN_RANDOM,
        Some(f) if f.eq_ignore_ascii_case("v2") => V2_PREFIX + MIN_RANDOM,
        Some(other) => return Err(CertError::Format(other.to_owned())),
    };
    if data.len() < min {
        return Err(CertError::TooShort(min));
    }
    // The v2 timestamp is signed with the rest; its value is not checked because the
    // simulator's scaled clock would disagree with the client's.
    UnparsedPublicKey::new(
        &RSA_PKCS1_2048_8192_SHA512,
        spki.subject_public_key.raw_bytes(),
    )
    .verify(&data, &signature)
    .map_err(|_| CertError::BadSignature)?;
    let der = cert
        .to_der()
        .map_err(|e| CertError::Certificate(e.to_string()))?;
    let sha256 = digest::digest(&digest::SHA256, &der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    Ok(Identity {
        subject: cert.tbs_certificate.subject.to_string(),
        sha256,
    })
}
