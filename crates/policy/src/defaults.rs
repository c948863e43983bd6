//! Default policies per attestation type (reference §3.9): what an instance uses until a policy is set
//! and after a reset.

/// The documented SgxEnclave / OpenEnclave default (policy version 1.1), byte for byte as published:
/// tab-indented rules, `\n` line ends, no trailing newline.
pub const SGX_DEFAULT_POLICY: &str = "version= 1.1;\n\
configurationrules{\n\
\t=> issueproperty(type=\"x-ms-sgx-tcbidentifier\", value=\"azuredefault\");\n\
};\n\
authorizationrules{\n\
\t=> permit();\n\
};\n\
issuancerules{\n\
\tc:[type==\"x-ms-sgx-is-debuggable\"] => issue(type=\"is-debuggable\", value=c.value);\n\
\tc:[type==\"x-ms-sgx-mrsigner\"] => issue(type=\"sgx-mrsigner\", value=c.value);\n\
\tc:[type==\"x-ms-sgx-mrenclave\"] => issue(type=\"sgx-mrenclave\", value=c.value);\n\
\tc:[type==\"x-ms-sgx-product-id\"] => issue(type=\"product-id\", value=c.value);\n\
\tc:[type==\"x-ms-sgx-svn\"] => issue(type=\"svn\", value=c.value);\n\
\tc:[type==\"x-ms-attestation-type\"] => issue(type=\"tee\", value=c.value);\n\
};";

/// The shared-provider SEV-SNP default, exactly (its hash `9NY0VnTQ-IiBriBplVUpFbczcDaEBUwsiFYAzHu_gco`
/// was seen in real tokens). Also used for TdxVm and AzureGuest, whose defaults are unpublished.
pub const PERMIT_ALL_POLICY: &str = "version= 1.0;authorizationrules{=> permit();};";

/// The 2021 shared-provider SGX/OpenEnclave default (single-line 1.0 form). Not served as a default any
/// more; kept because its hash `bROrN897ZfWmWY2V0FLUlu3uwk5xatGnKYHn3zBbSlw` appears in recorded tokens.
pub const SGX_DEFAULT_POLICY_2021: &str = "version= 1.0;authorizationrules{=> permit();};issuancerules{\
c:[type==\"x-ms-sgx-is-debuggable\"] => issue(type=\"is-debuggable\", value=c.value);\
c:[type==\"x-ms-sgx-mrsigner\"] => issue(type=\"sgx-mrsigner\", value=c.value);\
c:[type==\"x-ms-sgx-mrenclave\"] => issue(type=\"sgx-mrenclave\", value=c.value);\
c:[type==\"x-ms-sgx-product-id\"] => issue(type=\"product-id\", value=c.value);\
c:[type==\"x-ms-sgx-svn\"] => issue(type=\"svn\", value=c.value);\
c:[type==\"x-ms-attestation-type\"] => issue(type=\"tee\", value=c.value);};";

/// The default policy text for an attestation type (the route name, matched case-insensitively):
/// SgxEnclave/OpenEnclave → [`SGX_DEFAULT_POLICY`]; SevSnpVm, TdxVm, AzureGuest → [`PERMIT_ALL_POLICY`];
/// Tpm (and VBS, which attests through it) → `None`: MAA provisions TPM without a default policy, so TPM
/// attestation is refused until a policy is set. Unknown types → `None`.
pub fn default_policy(attestation_type: &str) -> Option<&'static str> {
    const TABLE: &[(&str, Option<&str>)] = &[
        ("SgxEnclave", Some(SGX_DEFAULT_POLICY)),
        ("OpenEnclave", Some(SGX_DEFAULT_POLICY)),
        ("SevSnpVm", Some(PERMIT_ALL_POLICY)),
        ("TdxVm", Some(PERMIT_ALL_POLICY)),
        ("AzureGuest", Some(PERMIT_ALL_POLICY)),
        ("Tpm", None),
    ];
    TABLE
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(attestation_type))
        .and_then(|(_, text)| *text)
}
