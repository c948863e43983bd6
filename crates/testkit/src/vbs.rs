//! Synthetic VBS enclave attestation reports, laid out as
//! `EnclaveGetAttestationReport` returns them (the `ntenclv.h` layout
//! `attesta_evidence::vbs` documents and parses), signed RSA-PSS/SHA-256
//! by a software VSM signing key (IDK_S), and the Windows boot log event
//! that records that key (`SIPAEVENT_VSM_IDKS_INFO` in a PCR 12 trust
//! boundary), so a [`crate::TpmSample`] built with [`idks_log_event`]
//! proves the key the report verifies with.
//!
//! The IDK_S and a second, unrelated key ([`VbsSigner::Other`]) are
//! generated once per process.

use std::sync::OnceLock;

use attesta_evidence::tpm::windows::{SIPAEVENT_TRUSTBOUNDARY, SIPAEVENT_VSM_IDKS_INFO};
use attesta_evidence::vbs::{
    PKG_HEADER_LEN, PKG_VERSION, REPORT_VERSION, SIGNATURE_SCHEME_RSA_PSS_SHA256, VARDATA_MODULE,
};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PSS_SHA256};

use crate::tpm::{EV_EVENT_TAG, LogEvent, sipa_container, sipa_item};

/// `BCRYPT_RSAPUBLIC_MAGIC`-style algorithm id Windows writes in
/// `SIPAEVENT_VSM_IDK_INFO_PAYLOAD.KeyAlgID` (`CALG_RSA_SIGN`).
const CALG_RSA_SIGN: u32 = 0x0000_2400;

fn idks() -> &'static KeyPair {
    static K: OnceLock<KeyPair> = OnceLock::new();
    K.get_or_init(|| KeyPair::generate(KeySize::Rsa2048).expect("RSA-2048 keygen"))
}

fn other() -> &'static KeyPair {
    static K: OnceLock<KeyPair> = OnceLock::new();
    K.get_or_init(|| KeyPair::generate(KeySize::Rsa2048).expect("RSA-2048 keygen"))
}

/// Which key signs a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VbsSigner {
    /// The IDK_S [`idks_log_event`] records.
    #[default]
    Idks,
    /// A key no log records.
    Other,
}

impl VbsSigner {
    fn key(self) -> &'static KeyPair {
        match self {
            VbsSigner::Idks => idks(),
            VbsSigner::Other => other(),
        }
    }

    /// `SIPAEVENT_VSM_IDK_INFO_PAYLOAD` of this key: `KeyAlgID`, then
    /// `KeyBitLength`, `PublicExpLengthBytes`, `ModulusSizeBytes` (u32 LE),
    /// the exponent and the modulus (big-endian).
    pub fn sipa_payload(self) -> Vec<u8> {
        let n = self
            .key()
            .public_key()
            .modulus()
            .big_endian_without_leading_zero()
            .to_vec();
        let e = [1u8, 0, 1];
        let mut p = Vec::new();
        for v in [
            CALG_RSA_SIGN,
            (n.len() * 8) as u32,
            e.len() as u32,
            n.len() as u32,
        ] {
            p.extend(v.to_le_bytes());
        }
        p.extend(e);
        p.extend(n);
        p
    }
}

/// An `EV_EVENT_TAG` event in `pcr` whose trust boundary holds the
/// `SIPAEVENT_VSM_IDKS_INFO` of `signer`'s key, as the Windows loader
/// records the VSM signing key.
pub fn idks_log_event(pcr: u32, signer: VbsSigner) -> LogEvent {
    let data = sipa_container(
        SIPAEVENT_TRUSTBOUNDARY,
        &[sipa_item(SIPAEVENT_VSM_IDKS_INFO, &signer.sipa_payload())],
    );
    LogEvent::new(pcr, EV_EVENT_TAG, &data)
}

/// The `EnclaveData` MAA's VBS protocol expects: SHA-512 of the
/// `report_signed` JSON text exactly as sent.
pub fn enclave_data_for(report_signed: &str) -> [u8; 64] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, report_signed.as_bytes());
    let mut out = [0u8; 64];
    out.copy_from_slice(d.as_ref());
    out
}

/// A VBS enclave report package; every field settable.
#[derive(Debug, Clone)]
pub struct VbsReportBuilder {
    pub enclave_data: [u8; 64],
    pub owner_id: [u8; 32],
    pub unique_id: [u8; 32],
    pub author_id: [u8; 32],
    pub family_id: [u8; 16],
    pub image_id: [u8; 16],
    pub enclave_svn: u32,
    pub secure_kernel_svn: u32,
    pub platform_svn: u32,
    pub flags: u32,
    pub signing_level: u32,
    /// Modules (name, svn) as `VBS_ENCLAVE_REPORT_MODULE` blocks.
    pub modules: Vec<(String, u32)>,
    pub signer: VbsSigner,
    pub signature_scheme: u32,
}

impl Default for VbsReportBuilder {
    fn default() -> Self {
        Self {
            enclave_data: [0; 64],
            owner_id: [0x01; 32],
            unique_id: [0x02; 32],
            author_id: [0x03; 32],
            family_id: [0x04; 16],
            image_id: [0x05; 16],
            enclave_svn: 7,
            secure_kernel_svn: 9,
            platform_svn: 11,
            flags: 0,
            signing_level: 12,
            modules: vec![("enclave.dll".into(), 3)],
            signer: VbsSigner::Idks,
            signature_scheme: SIGNATURE_SCHEME_RSA_PSS_SHA256,
        }
    }
}

impl VbsReportBuilder {
    /// `EnclaveData` bound to `report_signed` ([`enclave_data_for`]).
    pub fn bound_to(mut self, report_signed: &str) -> Self {
        self.enclave_data = enclave_data_for(report_signed);
        self
    }

    pub fn signer(mut self, signer: VbsSigner) -> Self {
        self.signer = signer;
        self
    }

    pub fn flags(mut self, flags: u32) -> Self {
        self.flags = flags;
        self
    }

    /// The signed statement: `VBS_ENCLAVE_REPORT` and the module blocks.
    pub fn statement(&self) -> Vec<u8> {
        let mut st = Vec::new();
        st.extend(0u32.to_le_bytes()); // ReportSize, set below
        st.extend(REPORT_VERSION.to_le_bytes());
        st.extend(self.enclave_data);
        st.extend(self.owner_id);
        st.extend(self.unique_id);
        st.extend(self.author_id);
        st.extend(self.family_id);
        st.extend(self.image_id);
        for v in [
            self.enclave_svn,
            self.secure_kernel_svn,
            self.platform_svn,
            self.flags,
            self.signing_level,
            0,
        ] {
            st.extend(v.to_le_bytes());
        }
        for (name, svn) in &self.modules {
            let mut m = Vec::new();
            m.extend(self.unique_id);
            m.extend(self.author_id);
            m.extend(self.family_id);
            m.extend(self.image_id);
            m.extend(svn.to_le_bytes());
            for u in name.encode_utf16().chain([0]) {
                m.extend(u.to_le_bytes());
            }
            st.extend(VARDATA_MODULE.to_le_bytes());
            st.extend(((m.len() + 8) as u32).to_le_bytes());
            st.extend(m);
        }
        let total = st.len() as u32;
        st[..4].copy_from_slice(&total.to_le_bytes());
        st
    }

    /// The report package, signed by [`Self::signer`].
    pub fn build(&self) -> Vec<u8> {
        let st = self.statement();
        let key = self.signer.key();
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut sig = vec![0u8; key.public_modulus_len()];
        key.sign(&RSA_PSS_SHA256, &rng, &st, &mut sig)
            .expect("RSA-PSS signing");
        let mut p = Vec::new();
        for v in [
            (PKG_HEADER_LEN + st.len() + sig.len()) as u32,
            PKG_VERSION,
            self.signature_scheme,
            st.len() as u32,
            sig.len() as u32,
            0,
        ] {
            p.extend(v.to_le_bytes());
        }
        p.extend(st);
        p.extend(sig);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TpmSample;
    use attesta_evidence::ErrorCode;
    use attesta_evidence::tpm::{TpmSettings, verify};
    use attesta_evidence::vbs;

    #[test]
    fn a_report_verifies_with_the_key_its_log_proves() {
        let sample = TpmSample::builder()
            .event(idks_log_event(12, VbsSigner::Idks))
            .build();
        let v = verify(
            &sample.evidence(),
            &sample.nonce,
            &sample.roots(),
            &TpmSettings::default(),
            sample.verify_at(),
        )
        .unwrap();
        let signed = r#"{"challenge":"x"}"#;
        let pkg = VbsReportBuilder::default().bound_to(signed).build();
        let ok = vbs::verify_with_log(&pkg, &v, &enclave_data_for(signed)).unwrap();
        assert_eq!(ok.identity.enclave_svn, 7);
        assert_eq!(ok.modules[0].name, "enclave.dll");
        // Signed by a key the log does not record.
        let bad = VbsReportBuilder::default()
            .bound_to(signed)
            .signer(VbsSigner::Other)
            .build();
        assert_eq!(
            vbs::verify_with_log(&bad, &v, &enclave_data_for(signed))
                .unwrap_err()
                .code(),
            "VbsReportSignatureInvalid"
        );

        // A log without the key, one with two keys, one with the key only
        // in a PCR the OS may extend (23).
        let verified = |s: &TpmSample| {
            verify(
                &s.evidence(),
                &s.nonce,
                &s.roots(),
                &TpmSettings::default(),
                s.verify_at(),
            )
            .unwrap()
        };
        let none = verified(&TpmSample::builder().build());
        assert_eq!(
            vbs::verify_with_log(&pkg, &none, &enclave_data_for(signed))
                .unwrap_err()
                .code(),
            "VbsIdksNotInLog"
        );
        let two = verified(
            &TpmSample::builder()
                .event(idks_log_event(12, VbsSigner::Idks))
                .event(idks_log_event(13, VbsSigner::Other))
                .build(),
        );
        assert_eq!(
            vbs::verify_with_log(&pkg, &two, &enclave_data_for(signed))
                .unwrap_err()
                .code(),
            "VbsIdksAmbiguous"
        );
        let app_pcr = verified(
            &TpmSample::builder()
                .event(idks_log_event(23, VbsSigner::Idks))
                .build(),
        );
        assert_eq!(
            vbs::verify_with_log(&pkg, &app_pcr, &enclave_data_for(signed))
                .unwrap_err()
                .code(),
            "VbsIdksNotInLog"
        );
        // The same key recorded twice is one key.
        let twice = verified(
            &TpmSample::builder()
                .event(idks_log_event(12, VbsSigner::Idks))
                .event(idks_log_event(19, VbsSigner::Idks))
                .build(),
        );
        assert!(vbs::verify_with_log(&pkg, &twice, &enclave_data_for(signed)).is_ok());
    }
}
