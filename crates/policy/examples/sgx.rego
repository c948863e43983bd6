# Attesta Rego policy example: SGX enclaves that are not debuggable, run at SVN 1 or later and are
# signed by one accepted MRSIGNER. The input document is {"claims": {TYPE: VALUE, ...}}.
package attesta.sgx

accepted_signers := {"2c1a44952ae8207135c6c29b75b8c029372ee94b677e15c20bd42340f10d41aa"}

default allow := false

allow if {
	input.claims["x-ms-sgx-is-debuggable"] == false
	input.claims["x-ms-sgx-svn"] >= 1
	accepted_signers[input.claims["x-ms-sgx-mrsigner"]]
}

# Issued into the token, like MAA's default SGX issuance rules.
claims := {
	"is-debuggable": input.claims["x-ms-sgx-is-debuggable"],
	"sgx-mrsigner": input.claims["x-ms-sgx-mrsigner"],
	"sgx-mrenclave": input.claims["x-ms-sgx-mrenclave"],
	"tee": input.claims["x-ms-attestation-type"],
}

properties := {"x-ms-sgx-tcbidentifier": "azuredefault"}
