//! Shared test data: the example policies of reference §3.10 (facts from Microsoft's public docs, quoted
//! in the reference), used by the conformance and sample-evaluation tests.

#![allow(dead_code)]

/// The policy texts of reference §3.10 (placeholders of the first sample filled in: `<product-id>` is
/// not a literal). Name, version, text.
pub const REFERENCE_EXAMPLES: &[(&str, &str, &str)] = &[
    (
        "sgx-custom",
        "1.0",
        r#"version= 1.0;
authorizationrules
{
       [ type=="x-ms-sgx-is-debuggable", value==false ]
        && [ type=="x-ms-sgx-product-id", value==1 ]
        && [ type=="x-ms-sgx-svn", value>= 0 ]
        && [ type=="x-ms-sgx-mrsigner", value=="<mrsigner>"]
    => permit();
};
issuancerules {
c:[type=="x-ms-sgx-mrsigner"] => issue(type="<custom-name>", value=c.value);
};"#,
    ),
    (
        "sgx-two-signers",
        "1.0",
        r#"version= 1.0;
authorizationrules
{
[ type=="x-ms-sgx-is-debuggable", value==false ] && [ type=="x-ms-sgx-mrsigner", value=="mrsigner1"] => permit();
[ type=="x-ms-sgx-is-debuggable", value==false ] && [ type=="x-ms-sgx-mrsigner", value=="mrsigner2"] => permit();
};"#,
    ),
    (
        "sgx-custom-tcb-baseline",
        "1.1",
        r#"version= 1.1;
configurationrules{
	=> issueproperty(type = "x-ms-sgx-tcbidentifier", value = "11");
};
authorizationrules{
	=> permit();
};
issuancerules{
	c:[type=="x-ms-sgx-is-debuggable"] => issue(type="is-debuggable", value=c.value);
	c:[type=="x-ms-sgx-mrsigner"] => issue(type="sgx-mrsigner", value=c.value);
	c:[type=="x-ms-sgx-mrenclave"] => issue(type="sgx-mrenclave", value=c.value);
	c:[type=="x-ms-sgx-product-id"] => issue(type="product-id", value=c.value);
	c:[type=="x-ms-sgx-svn"] => issue(type="svn", value=c.value);
	c:[type=="x-ms-attestation-type"] => issue(type="tee", value=c.value);
};"#,
    ),
    (
        "tpm-1.0",
        "1.0",
        r#"version=1.0;
authorizationrules { => permit(); };
issuancerules
{
[type=="aikValidated", value==true] && [type=="secureBootEnabled", value==true] &&
[type=="bootDebuggingDisabled", value==true] && [type=="vbsEnabled", value==true] &&
[type=="notWinPE", value==true] && [type=="notSafeMode", value==true] => issue(type="PlatformAttested", value=true);
};"#,
    ),
    (
        "tpm-1.1",
        "1.1",
        r#"version=1.1;
configurationrules{
=> issueproperty(type = "required_pcr_mask", value = 15);
=> issueproperty(type = "require_valid_aik_cert", value = false);
};
authorizationrules { => permit(); };
issuancerules
{
[type=="aikValidated", value==true] && [type=="secureBootEnabled", value==true] &&
[type=="bootDebuggingDisabled", value==true] && [type=="notSafeMode", value==true] => issue(type="PlatformAttested", value=true);
[type=="aikValidated", value==false] && [type=="secureBootEnabled", value==true] &&
[type=="bootDebuggingDisabled", value==true] && [type=="notSafeMode", value==true] => issue(type="PlatformAttested", value=false);
};"#,
    ),
    (
        "tpm-1.2-secureboot-elam",
        "1.2",
        r#"version=1.2;
authorizationrules { => permit(); };
issuancerules
{
c:[type == "events", issuer=="AttestationService"] => add(type = "efiConfigVariables", value = JmesPath(c.value, "Events[?EventTypeString == 'EV_EFI_VARIABLE_DRIVER_CONFIG' && ProcessedData.VariableGuid == '8BE4DF61-93CA-11D2-AA0D-00E098032B8C']"));
c:[type=="efiConfigVariables", issuer=="AttestationPolicy"]=> add(type = "secureBootEnabled", value = JsonToClaimValue(JmesPath(c.value, "[?ProcessedData.UnicodeName == 'SecureBoot'] | length(@) == `1` && @[0].ProcessedData.VariableData == 'AQ'")));
![type=="secureBootEnabled", issuer=="AttestationPolicy"] => add(type="secureBootEnabled", value=false);
c:[type=="boolProperties", issuer=="AttestationPolicy"] => add(type="elamDriverLoaded", value=JsonToClaimValue(JmesPath(c.value, "[*].EVENT_LOADEDMODULE_AGGREGATION[] | [? EVENT_IMAGEVALIDATED == `true` && (equals_ignore_case(EVENT_FILEPATH, '\\windows\\system32\\drivers\\wdboot.sys') || equals_ignore_case(EVENT_FILEPATH, '\\windows\\system32\\drivers\\wd\\wdboot.sys'))] | @ != `null`")));
[type=="elamDriverLoaded", issuer=="AttestationPolicy"] => add(type="WindowsDefenderElamDriverLoaded", value=true);
![type=="elamDriverLoaded", issuer=="AttestationPolicy"] => add(type="WindowsDefenderElamDriverLoaded", value=false);
[type=="WindowsDefenderElamDriverLoaded", value==true] && [type=="secureBootEnabled", value==true] => issue("PlatformAttested", value=true);
};"#,
    ),
    (
        "tpm-pcr-allow-list",
        "1.2",
        r#"version=1.2;
authorizationrules
{
    c:[type == "pcrs", issuer=="AttestationService"] =>  add(type="pcr0Validated", value=JsonToClaimValue(JmesPath(c.value, "PCRs[? Index == `0`].Digests.SHA256 | @[0] =='4c833b1c361fceffd8dc0f81eec76081b71e1a0eb2193caed0b6e1c7735ec33e' ")));
    c:[type == "pcrs", issuer=="AttestationService"] =>  add(type="pcr1Validated", value=JsonToClaimValue(JmesPath(c.value, "PCRs[? Index == `1`].Digests.SHA256 | @[0] =='8c25e3be6ad6f5bd33c9ae40d5d5461e88c1a7366df0c9ee5c7e5ff40d3d1d0e' ")));
    [type=="pcr0Validated", value==true] && [type=="pcr1Validated", value==true] => permit();
};
issuancerules { };"#,
    ),
    (
        "vbs-enclave-identity",
        "1.2",
        r#"version=1.2;
authorizationrules {
    [type=="vsmReportPresent", value==true] &&
    [type=="enclaveAuthorId", value=="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] &&
    [type=="enclaveImageId", value=="AQEAAAAAAAAAAAAAAAAAAA"] &&
    [type=="enclaveSvn", value>=0] =>  permit();
};
issuancerules { };"#,
    ),
    (
        "tpm-key-attestation",
        "1.2",
        r#"version=1.2;
authorizationrules { => permit(); };
issuancerules {
  c:[type=="x-ms-tpm-request-key", issuer=="AttestationService"] => add(type="requestKeyType", value=JsonToClaimValue(JmesPath(c.value, "jwk.kty")));
  c:[type=="requestKeyType", issuer=="AttestationPolicy", value=="RSA"] => issue(type="requestKeyType", value="RSA");
  c:[type=="x-ms-tpm-request-key", issuer=="AttestationService"] => add(type="requestKeyCertify", value=JmesPath(c.value, "info.tpm_certify"));
  c:[type=="requestKeyCertify", issuer=="AttestationPolicy"] => add(type="requestKeyCertifyObjAttr", value=JsonToClaimValue(JmesPath(c.value, "obj_attr")));
  c:[type=="requestKeyCertifyObjAttr", issuer=="AttestationPolicy", value==50] => issue(type="requestKeyCertifyObjAttr", value=50);
};"#,
    ),
    (
        "tpm-issue-everything",
        "1.2",
        r#"version=1.2;
authorizationrules { => permit(); };
issuancerules {
c:[type=="bootEvents", issuer=="AttestationService"] => issue(type="outputBootEvents", value=c.value);
c:[type=="events", issuer=="AttestationService"] => issue(type="outputEvents", value=c.value);
};"#,
    ),
    (
        "grammar-doc-f1-c2",
        "1.0",
        r#"version=1.0;
authorizationrules { => permit(); };
issuancerules {
F1:[type=="OSName", issuer=="CustomClaim"] && [type=="OSName", issuer=="AttestationService", value==F1.value] => issueproperty(type="report_validity_in_minutes", value=1440);
F1:[type=="OSName", issuer=="CustomClaim"] && C2:[type=="OSName", issuer=="AttestationService", value==F1.value] => issue(claim = C2);
};"#,
    ),
    (
        "snp-constructed",
        "1.0",
        r#"version=1.0;
authorizationrules {
  [type=="x-ms-sevsnpvm-is-debuggable", value==false] && [type=="x-ms-compliance-status", value=="azure-compliant-cvm"] => permit();
};
issuancerules {
  c:[type=="x-ms-sevsnpvm-launchmeasurement"] => issue(type="launch-measurement", value=c.value);
};"#,
    ),
    (
        "tdx-constructed",
        "1.0",
        r#"version=1.0;
authorizationrules { [type=="tdx_td_attributes_debug", value==false] && [type=="attester_tcb_status", value=="UpToDate"] => permit(); };
issuancerules { };"#,
    ),
    (
        "sgx-default-1.1",
        "1.1",
        attesta_policy::defaults::SGX_DEFAULT_POLICY,
    ),
    (
        "sgx-default-2021",
        "1.0",
        attesta_policy::defaults::SGX_DEFAULT_POLICY_2021,
    ),
    (
        "snp-default",
        "1.0",
        attesta_policy::defaults::PERMIT_ALL_POLICY,
    ),
];

/// The text of a reference example by name.
pub fn example(name: &str) -> &'static str {
    REFERENCE_EXAMPLES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, t)| *t)
        .unwrap_or_else(|| panic!("no example {name}"))
}
