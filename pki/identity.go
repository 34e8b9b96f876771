package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"

	"github.com/mosaicgw/mosaic"
)

// IdentityExtensions returns the two non-critical extensions that carry id in
// a peer certificate: the grant id under mosaic.OIDGrantID and the subject
// user id under mosaic.OIDSubjectUserID, each a DER UTF8String. Empty or
// non-UTF-8 values are refused.
func IdentityExtensions(id mosaic.Identity) ([]pkix.Extension, error) {
	grant, err := identityValue("grant id", id.GrantID)
	if err != nil {
		return nil, err
	}
	user, err := identityValue("subject user id", id.SubjectUserID)
	if err != nil {
		return nil, err
	}
	return []pkix.Extension{
		{Id: mosaic.OIDGrantID, Value: grant},
		{Id: mosaic.OIDSubjectUserID, Value: user},
	}, nil
}

// identityValue encodes one identity value, refusing an empty one.
func identityValue(field, v string) ([]byte, error) {
	if v == "" {
		return nil, mosaic.Errorf(mosaic.KindInvalid, "invalid_identity", "%s is empty", field)
	}
	der, err := MarshalUTF8String(v)
	if err != nil {
		return nil, mosaic.WrapError(mosaic.KindInvalid, "invalid_identity",
			field+" is not valid utf-8", err)
	}
	return der, nil
}

// ParseIdentity reads the grant and subject user ids from cert. Each
// extension must occur exactly once and hold a non-empty DER UTF8String
// (see ParseUTF8String). Any other shape is KindForbidden with code
// "identity_invalid", since a certificate that does not say clearly whom it
// speaks for grants nothing.
func ParseIdentity(cert *x509.Certificate) (mosaic.Identity, error) {
	if cert == nil {
		return mosaic.Identity{}, identityError("no certificate")
	}
	grant, err := extensionText(cert, "grant id", mosaic.OIDGrantID)
	if err != nil {
		return mosaic.Identity{}, err
	}
	user, err := extensionText(cert, "subject user id", mosaic.OIDSubjectUserID)
	if err != nil {
		return mosaic.Identity{}, err
	}
	return mosaic.Identity{GrantID: grant, SubjectUserID: user}, nil
}

// extensionText returns the text of the one extension of cert with that OID.
func extensionText(cert *x509.Certificate, field string,
	oid asn1.ObjectIdentifier) (string, error) {
	var found []byte
	count := 0
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(oid) {
			count++
			found = ext.Value
		}
	}
	switch {
	case count == 0:
		return "", identityError(field + " extension missing")
	case count > 1:
		return "", identityError(field + " extension repeated")
	}
	s, err := ParseUTF8String(found)
	if err != nil {
		return "", mosaic.WrapError(mosaic.KindForbidden, "identity_invalid",
			field+" extension is not a DER UTF8String", err)
	}
	if s == "" {
		return "", identityError(field + " extension is empty")
	}
	return s, nil
}

// identityError is the error of a certificate whose identity cannot be read.
func identityError(msg string) error {
	return mosaic.Errorf(mosaic.KindForbidden, "identity_invalid", "certificate identity: %s", msg)
}
