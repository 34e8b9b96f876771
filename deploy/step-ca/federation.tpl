{{- /*
  X.509 template of the step-ca JWK provisioner that issues Mosaic federation
  peer certificates. The gateway signs a one-time token per certificate with
  these claims, which step-ca has verified before it renders this template:
    mosaic_common_name      the subject the grantor chose for the peer
    mosaic_grant_id         the grant the certificate speaks for
    mosaic_subject_user_id  the user whose data the grant shares
    mosaic_serial           the serial number, drawn by the gateway (0x<hex>)
  Nothing of the CSR but its public key goes into the certificate (step-ca
  always takes the key from the CSR): no subject, names or extensions.
  Each identity value is a non-critical extension holding a DER UTF8String,
  whatever characters it has ("utf8:" makes asn1Enc use that type, where it
  would otherwise pick PrintableString; asn1Enc answers in base64, the form
  the "value" field takes). The gateway checks every certificate against
  these rules and refuses one that breaks them.
*/ -}}
{{- $cn := .Token.mosaic_common_name -}}
{{- $grant := .Token.mosaic_grant_id -}}
{{- $user := .Token.mosaic_subject_user_id -}}
{{- $serial := .Token.mosaic_serial -}}
{{- if not (kindIs "string" $cn) }}{{ fail "token claim mosaic_common_name is missing" }}{{ end -}}
{{- if not $cn }}{{ fail "token claim mosaic_common_name is empty" }}{{ end -}}
{{- if not (kindIs "string" $grant) }}{{ fail "token claim mosaic_grant_id is missing" }}{{ end -}}
{{- if not $grant }}{{ fail "token claim mosaic_grant_id is empty" }}{{ end -}}
{{- if not (kindIs "string" $user) }}{{ fail "token claim mosaic_subject_user_id is missing" }}{{ end -}}
{{- if not $user }}{{ fail "token claim mosaic_subject_user_id is empty" }}{{ end -}}
{{- if not (kindIs "string" $serial) }}{{ fail "token claim mosaic_serial is missing" }}{{ end -}}
{
	"serialNumber": {{ toJson $serial }},
	"subject": {"commonName": {{ toJson $cn }}},
	"keyUsage": ["digitalSignature"],
	"extKeyUsage": ["clientAuth"],
	"basicConstraints": {"isCA": false},
	"extensions": [
		{"id": "1.3.6.1.4.1.99999.1", "critical": false,
		 "value": {{ printf "utf8:%s" $grant | asn1Enc | toJson }}},
		{"id": "1.3.6.1.4.1.99999.2", "critical": false,
		 "value": {{ printf "utf8:%s" $user | asn1Enc | toJson }}}
	]
}
