//! The MC-NBFS static dictionary: string number n has dictionary id 2n (ids 0x000-0x3CC).
//!
//! GENERATED once from Appendix A of docs/entra-sync-protocol.md ("MC-NBFS static dictionary"),
//! itself transcribed from python-wcfbin `wcf/dictionary.py` / [MC-NBFS]; entry 0x0A2 is the empty
//! string. Do not edit by hand: regenerate from the appendix if it ever changes.

/// Strings of the static dictionary, indexed by `id / 2`.
pub(crate) static STATIC_DICTIONARY: [&str; 487] = [
    "mustUnderstand",                                                                     // 0x000
    "Envelope",                                                                           // 0x002
    "http://www.w3.org/2003/05/soap-envelope",                                            // 0x004
    "http://www.w3.org/2005/08/addressing",                                               // 0x006
    "Header",                                                                             // 0x008
    "Action",                                                                             // 0x00A
    "To",                                                                                 // 0x00C
    "Body",                                                                               // 0x00E
    "Algorithm",                                                                          // 0x010
    "RelatesTo",                                                                          // 0x012
    "http://www.w3.org/2005/08/addressing/anonymous",                                     // 0x014
    "URI",                                                                                // 0x016
    "Reference",                                                                          // 0x018
    "MessageID",                                                                          // 0x01A
    "Id",                                                                                 // 0x01C
    "Identifier",                                                                         // 0x01E
    "http://schemas.xmlsoap.org/ws/2005/02/rm",                                           // 0x020
    "Transforms",                                                                         // 0x022
    "Transform",                                                                          // 0x024
    "DigestMethod",                                                                       // 0x026
    "DigestValue",                                                                        // 0x028
    "Address",                                                                            // 0x02A
    "ReplyTo",                                                                            // 0x02C
    "SequenceAcknowledgement",                                                            // 0x02E
    "AcknowledgementRange",                                                               // 0x030
    "Upper",                                                                              // 0x032
    "Lower",                                                                              // 0x034
    "BufferRemaining",                                                                    // 0x036
    "http://schemas.microsoft.com/ws/2006/05/rm",                                         // 0x038
    "http://schemas.xmlsoap.org/ws/2005/02/rm/SequenceAcknowledgement",                   // 0x03A
    "SecurityTokenReference",                                                             // 0x03C
    "Sequence",                                                                           // 0x03E
    "MessageNumber",                                                                      // 0x040
    "http://www.w3.org/2000/09/xmldsig#",                                                 // 0x042
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",                              // 0x044
    "KeyInfo",                                                                            // 0x046
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",  // 0x048
    "http://www.w3.org/2001/04/xmlenc#",                                                  // 0x04A
    "http://schemas.xmlsoap.org/ws/2005/02/sc",                                           // 0x04C
    "DerivedKeyToken",                                                                    // 0x04E
    "Nonce",                                                                              // 0x050
    "Signature",                                                                          // 0x052
    "SignedInfo",                                                                         // 0x054
    "CanonicalizationMethod",                                                             // 0x056
    "SignatureMethod",                                                                    // 0x058
    "SignatureValue",                                                                     // 0x05A
    "DataReference",                                                                      // 0x05C
    "EncryptedData",                                                                      // 0x05E
    "EncryptionMethod",                                                                   // 0x060
    "CipherData",                                                                         // 0x062
    "CipherValue",                                                                        // 0x064
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd", // 0x066
    "Security",                                                                           // 0x068
    "Timestamp",                                                                          // 0x06A
    "Created",                                                                            // 0x06C
    "Expires",                                                                            // 0x06E
    "Length",                                                                             // 0x070
    "ReferenceList",                                                                      // 0x072
    "ValueType",                                                                          // 0x074
    "Type",                                                                               // 0x076
    "EncryptedHeader",                                                                    // 0x078
    "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd",                 // 0x07A
    "RequestSecurityTokenResponseCollection",                                             // 0x07C
    "http://schemas.xmlsoap.org/ws/2005/02/trust",                                        // 0x07E
    "http://schemas.xmlsoap.org/ws/2005/02/trust#BinarySecret",                           // 0x080
    "http://schemas.microsoft.com/ws/2006/02/transactions",                               // 0x082
    "s",                                                                                  // 0x084
    "Fault",                                                                              // 0x086
    "MustUnderstand",                                                                     // 0x088
    "role",                                                                               // 0x08A
    "relay",                                                                              // 0x08C
    "Code",                                                                               // 0x08E
    "Reason",                                                                             // 0x090
    "Text",                                                                               // 0x092
    "Node",                                                                               // 0x094
    "Role",                                                                               // 0x096
    "Detail",                                                                             // 0x098
    "Value",                                                                              // 0x09A
    "Subcode",                                                                            // 0x09C
    "NotUnderstood",                                                                      // 0x09E
    "qname",                                                                              // 0x0A0
    "",                                                                                   // 0x0A2
    "From",                                                                               // 0x0A4
    "FaultTo",                                                                            // 0x0A6
    "EndpointReference",                                                                  // 0x0A8
    "PortType",                                                                           // 0x0AA
    "ServiceName",                                                                        // 0x0AC
    "PortName",                                                                           // 0x0AE
    "ReferenceProperties",                                                                // 0x0B0
    "RelationshipType",                                                                   // 0x0B2
    "Reply",                                                                              // 0x0B4
    "a",                                                                                  // 0x0B6
    "http://schemas.xmlsoap.org/ws/2006/02/addressingidentity",                           // 0x0B8
    "Identity",                                                                           // 0x0BA
    "Spn",                                                                                // 0x0BC
    "Upn",                                                                                // 0x0BE
    "Rsa",                                                                                // 0x0C0
    "Dns",                                                                                // 0x0C2
    "X509v3Certificate",                                                                  // 0x0C4
    "http://www.w3.org/2005/08/addressing/fault",                                         // 0x0C6
    "ReferenceParameters",                                                                // 0x0C8
    "IsReferenceParameter",                                                               // 0x0CA
    "http://www.w3.org/2005/08/addressing/reply",                                         // 0x0CC
    "http://www.w3.org/2005/08/addressing/none",                                          // 0x0CE
    "Metadata",                                                                           // 0x0D0
    "http://schemas.xmlsoap.org/ws/2004/08/addressing",                                   // 0x0D2
    "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous",                    // 0x0D4
    "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault",                             // 0x0D6
    "http://schemas.xmlsoap.org/ws/2004/06/addressingex",                                 // 0x0D8
    "RedirectTo",                                                                         // 0x0DA
    "Via",                                                                                // 0x0DC
    "http://www.w3.org/2001/10/xml-exc-c14n#",                                            // 0x0DE
    "PrefixList",                                                                         // 0x0E0
    "InclusiveNamespaces",                                                                // 0x0E2
    "ec",                                                                                 // 0x0E4
    "SecurityContextToken",                                                               // 0x0E6
    "Generation",                                                                         // 0x0E8
    "Label",                                                                              // 0x0EA
    "Offset",                                                                             // 0x0EC
    "Properties",                                                                         // 0x0EE
    "Cookie",                                                                             // 0x0F0
    "wsc",                                                                                // 0x0F2
    "http://schemas.xmlsoap.org/ws/2004/04/sc",                                           // 0x0F4
    "http://schemas.xmlsoap.org/ws/2004/04/security/sc/dk",                               // 0x0F6
    "http://schemas.xmlsoap.org/ws/2004/04/security/sc/sct",                              // 0x0F8
    "http://schemas.xmlsoap.org/ws/2004/04/security/trust/RST/SCT",                       // 0x0FA
    "http://schemas.xmlsoap.org/ws/2004/04/security/trust/RSTR/SCT",                      // 0x0FC
    "RenewNeeded",                                                                        // 0x0FE
    "BadContextToken",                                                                    // 0x100
    "c",                                                                                  // 0x102
    "http://schemas.xmlsoap.org/ws/2005/02/sc/dk",                                        // 0x104
    "http://schemas.xmlsoap.org/ws/2005/02/sc/sct",                                       // 0x106
    "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/SCT",                                // 0x108
    "http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/SCT",                               // 0x10A
    "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/SCT/Renew",                          // 0x10C
    "http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/SCT/Renew",                         // 0x10E
    "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/SCT/Cancel",                         // 0x110
    "http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/SCT/Cancel",                        // 0x112
    "http://www.w3.org/2001/04/xmlenc#aes128-cbc",                                        // 0x114
    "http://www.w3.org/2001/04/xmlenc#kw-aes128",                                         // 0x116
    "http://www.w3.org/2001/04/xmlenc#aes192-cbc",                                        // 0x118
    "http://www.w3.org/2001/04/xmlenc#kw-aes192",                                         // 0x11A
    "http://www.w3.org/2001/04/xmlenc#aes256-cbc",                                        // 0x11C
    "http://www.w3.org/2001/04/xmlenc#kw-aes256",                                         // 0x11E
    "http://www.w3.org/2001/04/xmlenc#des-cbc",                                           // 0x120
    "http://www.w3.org/2000/09/xmldsig#dsa-sha1",                                         // 0x122
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",                                // 0x124
    "http://www.w3.org/2000/09/xmldsig#hmac-sha1",                                        // 0x126
    "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",                                 // 0x128
    "http://schemas.xmlsoap.org/ws/2005/02/sc/dk/p_sha1",                                 // 0x12A
    "http://www.w3.org/2001/04/xmlenc#ripemd160",                                         // 0x12C
    "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",                                    // 0x12E
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",                                         // 0x130
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",                                  // 0x132
    "http://www.w3.org/2001/04/xmlenc#rsa-1_5",                                           // 0x134
    "http://www.w3.org/2000/09/xmldsig#sha1",                                             // 0x136
    "http://www.w3.org/2001/04/xmlenc#sha256",                                            // 0x138
    "http://www.w3.org/2001/04/xmlenc#sha512",                                            // 0x13A
    "http://www.w3.org/2001/04/xmlenc#tripledes-cbc",                                     // 0x13C
    "http://www.w3.org/2001/04/xmlenc#kw-tripledes",                                      // 0x13E
    "http://schemas.xmlsoap.org/2005/02/trust/tlsnego#TLS_Wrap",                          // 0x140
    "http://schemas.xmlsoap.org/2005/02/trust/spnego#GSS_Wrap",                           // 0x142
    "http://schemas.microsoft.com/ws/2006/05/security",                                   // 0x144
    "dnse",                                                                               // 0x146
    "o",                                                                                  // 0x148
    "Password",                                                                           // 0x14A
    "PasswordText",                                                                       // 0x14C
    "Username",                                                                           // 0x14E
    "UsernameToken",                                                                      // 0x150
    "BinarySecurityToken",                                                                // 0x152
    "EncodingType",                                                                       // 0x154
    "KeyIdentifier",                                                                      // 0x156
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary", // 0x158
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#HexBinary", // 0x15A
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Text", // 0x15C
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier", // 0x15E
    "http://docs.oasis-open.org/wss/oasis-wss-kerberos-token-profile-1.1#GSS_Kerberosv5_AP_REQ", // 0x160
    "http://docs.oasis-open.org/wss/oasis-wss-kerberos-token-profile-1.1#GSS_Kerberosv5_AP_REQ1510", // 0x162
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID",    // 0x164
    "Assertion",                                                                          // 0x166
    "urn:oasis:names:tc:SAML:1.0:assertion",                                              // 0x168
    "http://docs.oasis-open.org/wss/oasis-wss-rel-token-profile-1.0.pdf#license",         // 0x16A
    "FailedAuthentication",                                                               // 0x16C
    "InvalidSecurityToken",                                                               // 0x16E
    "InvalidSecurity",                                                                    // 0x170
    "k",                                                                                  // 0x172
    "SignatureConfirmation",                                                              // 0x174
    "TokenType",                                                                          // 0x176
    "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1",  // 0x178
    "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#EncryptedKey",    // 0x17A
    "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#EncryptedKeySHA1", // 0x17C
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1",           // 0x17E
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0",           // 0x180
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID",             // 0x182
    "AUTH-HASH",                                                                          // 0x184
    "RequestSecurityTokenResponse",                                                       // 0x186
    "KeySize",                                                                            // 0x188
    "RequestedTokenReference",                                                            // 0x18A
    "AppliesTo",                                                                          // 0x18C
    "Authenticator",                                                                      // 0x18E
    "CombinedHash",                                                                       // 0x190
    "BinaryExchange",                                                                     // 0x192
    "Lifetime",                                                                           // 0x194
    "RequestedSecurityToken",                                                             // 0x196
    "Entropy",                                                                            // 0x198
    "RequestedProofToken",                                                                // 0x19A
    "ComputedKey",                                                                        // 0x19C
    "RequestSecurityToken",                                                               // 0x19E
    "RequestType",                                                                        // 0x1A0
    "Context",                                                                            // 0x1A2
    "BinarySecret",                                                                       // 0x1A4
    "http://schemas.xmlsoap.org/ws/2005/02/trust/spnego",                                 // 0x1A6
    "http://schemas.xmlsoap.org/ws/2005/02/trust/tlsnego",                                // 0x1A8
    "wst",                                                                                // 0x1AA
    "http://schemas.xmlsoap.org/ws/2004/04/trust",                                        // 0x1AC
    "http://schemas.xmlsoap.org/ws/2004/04/security/trust/RST/Issue",                     // 0x1AE
    "http://schemas.xmlsoap.org/ws/2004/04/security/trust/RSTR/Issue",                    // 0x1B0
    "http://schemas.xmlsoap.org/ws/2004/04/security/trust/Issue",                         // 0x1B2
    "http://schemas.xmlsoap.org/ws/2004/04/security/trust/CK/PSHA1",                      // 0x1B4
    "http://schemas.xmlsoap.org/ws/2004/04/security/trust/SymmetricKey",                  // 0x1B6
    "http://schemas.xmlsoap.org/ws/2004/04/security/trust/Nonce",                         // 0x1B8
    "KeyType",                                                                            // 0x1BA
    "http://schemas.xmlsoap.org/ws/2004/04/trust/SymmetricKey",                           // 0x1BC
    "http://schemas.xmlsoap.org/ws/2004/04/trust/PublicKey",                              // 0x1BE
    "Claims",                                                                             // 0x1C0
    "InvalidRequest",                                                                     // 0x1C2
    "RequestFailed",                                                                      // 0x1C4
    "SignWith",                                                                           // 0x1C6
    "EncryptWith",                                                                        // 0x1C8
    "EncryptionAlgorithm",                                                                // 0x1CA
    "CanonicalizationAlgorithm",                                                          // 0x1CC
    "ComputedKeyAlgorithm",                                                               // 0x1CE
    "UseKey",                                                                             // 0x1D0
    "http://schemas.microsoft.com/net/2004/07/secext/WS-SPNego",                          // 0x1D2
    "http://schemas.microsoft.com/net/2004/07/secext/TLSNego",                            // 0x1D4
    "t",                                                                                  // 0x1D6
    "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue",                              // 0x1D8
    "http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/Issue",                             // 0x1DA
    "http://schemas.xmlsoap.org/ws/2005/02/trust/Issue",                                  // 0x1DC
    "http://schemas.xmlsoap.org/ws/2005/02/trust/SymmetricKey",                           // 0x1DE
    "http://schemas.xmlsoap.org/ws/2005/02/trust/CK/PSHA1",                               // 0x1E0
    "http://schemas.xmlsoap.org/ws/2005/02/trust/Nonce",                                  // 0x1E2
    "RenewTarget",                                                                        // 0x1E4
    "CancelTarget",                                                                       // 0x1E6
    "RequestedTokenCancelled",                                                            // 0x1E8
    "RequestedAttachedReference",                                                         // 0x1EA
    "RequestedUnattachedReference",                                                       // 0x1EC
    "IssuedTokens",                                                                       // 0x1EE
    "http://schemas.xmlsoap.org/ws/2005/02/trust/Renew",                                  // 0x1F0
    "http://schemas.xmlsoap.org/ws/2005/02/trust/Cancel",                                 // 0x1F2
    "http://schemas.xmlsoap.org/ws/2005/02/trust/PublicKey",                              // 0x1F4
    "Access",                                                                             // 0x1F6
    "AccessDecision",                                                                     // 0x1F8
    "Advice",                                                                             // 0x1FA
    "AssertionID",                                                                        // 0x1FC
    "AssertionIDReference",                                                               // 0x1FE
    "Attribute",                                                                          // 0x200
    "AttributeName",                                                                      // 0x202
    "AttributeNamespace",                                                                 // 0x204
    "AttributeStatement",                                                                 // 0x206
    "AttributeValue",                                                                     // 0x208
    "Audience",                                                                           // 0x20A
    "AudienceRestrictionCondition",                                                       // 0x20C
    "AuthenticationInstant",                                                              // 0x20E
    "AuthenticationMethod",                                                               // 0x210
    "AuthenticationStatement",                                                            // 0x212
    "AuthorityBinding",                                                                   // 0x214
    "AuthorityKind",                                                                      // 0x216
    "AuthorizationDecisionStatement",                                                     // 0x218
    "Binding",                                                                            // 0x21A
    "Condition",                                                                          // 0x21C
    "Conditions",                                                                         // 0x21E
    "Decision",                                                                           // 0x220
    "DoNotCacheCondition",                                                                // 0x222
    "Evidence",                                                                           // 0x224
    "IssueInstant",                                                                       // 0x226
    "Issuer",                                                                             // 0x228
    "Location",                                                                           // 0x22A
    "MajorVersion",                                                                       // 0x22C
    "MinorVersion",                                                                       // 0x22E
    "NameIdentifier",                                                                     // 0x230
    "Format",                                                                             // 0x232
    "NameQualifier",                                                                      // 0x234
    "Namespace",                                                                          // 0x236
    "NotBefore",                                                                          // 0x238
    "NotOnOrAfter",                                                                       // 0x23A
    "saml",                                                                               // 0x23C
    "Statement",                                                                          // 0x23E
    "Subject",                                                                            // 0x240
    "SubjectConfirmation",                                                                // 0x242
    "SubjectConfirmationData",                                                            // 0x244
    "ConfirmationMethod",                                                                 // 0x246
    "urn:oasis:names:tc:SAML:1.0:cm:holder-of-key",                                       // 0x248
    "urn:oasis:names:tc:SAML:1.0:cm:sender-vouches",                                      // 0x24A
    "SubjectLocality",                                                                    // 0x24C
    "DNSAddress",                                                                         // 0x24E
    "IPAddress",                                                                          // 0x250
    "SubjectStatement",                                                                   // 0x252
    "urn:oasis:names:tc:SAML:1.0:am:unspecified",                                         // 0x254
    "xmlns",                                                                              // 0x256
    "Resource",                                                                           // 0x258
    "UserName",                                                                           // 0x25A
    "urn:oasis:names:tc:SAML:1.1:nameid-format:WindowsDomainQualifiedName",               // 0x25C
    "EmailName",                                                                          // 0x25E
    "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",                             // 0x260
    "u",                                                                                  // 0x262
    "ChannelInstance",                                                                    // 0x264
    "http://schemas.microsoft.com/ws/2005/02/duplex",                                     // 0x266
    "Encoding",                                                                           // 0x268
    "MimeType",                                                                           // 0x26A
    "CarriedKeyName",                                                                     // 0x26C
    "Recipient",                                                                          // 0x26E
    "EncryptedKey",                                                                       // 0x270
    "KeyReference",                                                                       // 0x272
    "e",                                                                                  // 0x274
    "http://www.w3.org/2001/04/xmlenc#Element",                                           // 0x276
    "http://www.w3.org/2001/04/xmlenc#Content",                                           // 0x278
    "KeyName",                                                                            // 0x27A
    "MgmtData",                                                                           // 0x27C
    "KeyValue",                                                                           // 0x27E
    "RSAKeyValue",                                                                        // 0x280
    "Modulus",                                                                            // 0x282
    "Exponent",                                                                           // 0x284
    "X509Data",                                                                           // 0x286
    "X509IssuerSerial",                                                                   // 0x288
    "X509IssuerName",                                                                     // 0x28A
    "X509SerialNumber",                                                                   // 0x28C
    "X509Certificate",                                                                    // 0x28E
    "AckRequested",                                                                       // 0x290
    "http://schemas.xmlsoap.org/ws/2005/02/rm/AckRequested",                              // 0x292
    "AcksTo",                                                                             // 0x294
    "Accept",                                                                             // 0x296
    "CreateSequence",                                                                     // 0x298
    "http://schemas.xmlsoap.org/ws/2005/02/rm/CreateSequence",                            // 0x29A
    "CreateSequenceRefused",                                                              // 0x29C
    "CreateSequenceResponse",                                                             // 0x29E
    "http://schemas.xmlsoap.org/ws/2005/02/rm/CreateSequenceResponse",                    // 0x2A0
    "FaultCode",                                                                          // 0x2A2
    "InvalidAcknowledgement",                                                             // 0x2A4
    "LastMessage",                                                                        // 0x2A6
    "http://schemas.xmlsoap.org/ws/2005/02/rm/LastMessage",                               // 0x2A8
    "LastMessageNumberExceeded",                                                          // 0x2AA
    "MessageNumberRollover",                                                              // 0x2AC
    "Nack",                                                                               // 0x2AE
    "netrm",                                                                              // 0x2B0
    "Offer",                                                                              // 0x2B2
    "r",                                                                                  // 0x2B4
    "SequenceFault",                                                                      // 0x2B6
    "SequenceTerminated",                                                                 // 0x2B8
    "TerminateSequence",                                                                  // 0x2BA
    "http://schemas.xmlsoap.org/ws/2005/02/rm/TerminateSequence",                         // 0x2BC
    "UnknownSequence",                                                                    // 0x2BE
    "http://schemas.microsoft.com/ws/2006/02/tx/oletx",                                   // 0x2C0
    "oletx",                                                                              // 0x2C2
    "OleTxTransaction",                                                                   // 0x2C4
    "PropagationToken",                                                                   // 0x2C6
    "http://schemas.xmlsoap.org/ws/2004/10/wscoor",                                       // 0x2C8
    "wscoor",                                                                             // 0x2CA
    "CreateCoordinationContext",                                                          // 0x2CC
    "CreateCoordinationContextResponse",                                                  // 0x2CE
    "CoordinationContext",                                                                // 0x2D0
    "CurrentContext",                                                                     // 0x2D2
    "CoordinationType",                                                                   // 0x2D4
    "RegistrationService",                                                                // 0x2D6
    "Register",                                                                           // 0x2D8
    "RegisterResponse",                                                                   // 0x2DA
    "ProtocolIdentifier",                                                                 // 0x2DC
    "CoordinatorProtocolService",                                                         // 0x2DE
    "ParticipantProtocolService",                                                         // 0x2E0
    "http://schemas.xmlsoap.org/ws/2004/10/wscoor/CreateCoordinationContext",             // 0x2E2
    "http://schemas.xmlsoap.org/ws/2004/10/wscoor/CreateCoordinationContextResponse",     // 0x2E4
    "http://schemas.xmlsoap.org/ws/2004/10/wscoor/Register",                              // 0x2E6
    "http://schemas.xmlsoap.org/ws/2004/10/wscoor/RegisterResponse",                      // 0x2E8
    "http://schemas.xmlsoap.org/ws/2004/10/wscoor/fault",                                 // 0x2EA
    "ActivationCoordinatorPortType",                                                      // 0x2EC
    "RegistrationCoordinatorPortType",                                                    // 0x2EE
    "InvalidState",                                                                       // 0x2F0
    "InvalidProtocol",                                                                    // 0x2F2
    "InvalidParameters",                                                                  // 0x2F4
    "NoActivity",                                                                         // 0x2F6
    "ContextRefused",                                                                     // 0x2F8
    "AlreadyRegistered",                                                                  // 0x2FA
    "http://schemas.xmlsoap.org/ws/2004/10/wsat",                                         // 0x2FC
    "wsat",                                                                               // 0x2FE
    "http://schemas.xmlsoap.org/ws/2004/10/wsat/Completion",                              // 0x300
    "http://schemas.xmlsoap.org/ws/2004/10/wsat/Durable2PC",                              // 0x302
    "http://schemas.xmlsoap.org/ws/2004/10/wsat/Volatile2PC",                             // 0x304
    "Prepare",                                                                            // 0x306
    "Prepared",                                                                           // 0x308
    "ReadOnly",                                                                           // 0x30A
    "Commit",                                                                             // 0x30C
    "Rollback",                                                                           // 0x30E
    "Committed",                                                                          // 0x310
    "Aborted",                                                                            // 0x312
    "Replay",                                                                             // 0x314
    "http://schemas.xmlsoap.org/ws/2004/10/wsat/Commit",                                  // 0x316
    "http://schemas.xmlsoap.org/ws/2004/10/wsat/Rollback",                                // 0x318
    "http://schemas.xmlsoap.org/ws/2004/10/wsat/Committed",                               // 0x31A
    "http://schemas.xmlsoap.org/ws/2004/10/wsat/Aborted",                                 // 0x31C
    "http://schemas.xmlsoap.org/ws/2004/10/wsat/Prepare",                                 // 0x31E
    "http://schemas.xmlsoap.org/ws/2004/10/wsat/Prepared",                                // 0x320
    "http://schemas.xmlsoap.org/ws/2004/10/wsat/ReadOnly",                                // 0x322
    "http://schemas.xmlsoap.org/ws/2004/10/wsat/Replay",                                  // 0x324
    "http://schemas.xmlsoap.org/ws/2004/10/wsat/fault",                                   // 0x326
    "CompletionCoordinatorPortType",                                                      // 0x328
    "CompletionParticipantPortType",                                                      // 0x32A
    "CoordinatorPortType",                                                                // 0x32C
    "ParticipantPortType",                                                                // 0x32E
    "InconsistentInternalState",                                                          // 0x330
    "mstx",                                                                               // 0x332
    "Enlistment",                                                                         // 0x334
    "protocol",                                                                           // 0x336
    "LocalTransactionId",                                                                 // 0x338
    "IsolationLevel",                                                                     // 0x33A
    "IsolationFlags",                                                                     // 0x33C
    "Description",                                                                        // 0x33E
    "Loopback",                                                                           // 0x340
    "RegisterInfo",                                                                       // 0x342
    "ContextId",                                                                          // 0x344
    "TokenId",                                                                            // 0x346
    "AccessDenied",                                                                       // 0x348
    "InvalidPolicy",                                                                      // 0x34A
    "CoordinatorRegistrationFailed",                                                      // 0x34C
    "TooManyEnlistments",                                                                 // 0x34E
    "Disabled",                                                                           // 0x350
    "ActivityId",                                                                         // 0x352
    "http://schemas.microsoft.com/2004/09/ServiceModel/Diagnostics",                      // 0x354
    "http://docs.oasis-open.org/wss/oasis-wss-kerberos-token-profile-1.1#Kerberosv5APREQSHA1", // 0x356
    "http://schemas.xmlsoap.org/ws/2002/12/policy",                                       // 0x358
    "FloodMessage",                                                                       // 0x35A
    "LinkUtility",                                                                        // 0x35C
    "Hops",                                                                               // 0x35E
    "http://schemas.microsoft.com/net/2006/05/peer/HopCount",                             // 0x360
    "PeerVia",                                                                            // 0x362
    "http://schemas.microsoft.com/net/2006/05/peer",                                      // 0x364
    "PeerFlooder",                                                                        // 0x366
    "PeerTo",                                                                             // 0x368
    "http://schemas.microsoft.com/ws/2005/05/routing",                                    // 0x36A
    "PacketRoutable",                                                                     // 0x36C
    "http://schemas.microsoft.com/ws/2005/05/addressing/none",                            // 0x36E
    "http://schemas.microsoft.com/ws/2005/05/envelope/none",                              // 0x370
    "http://www.w3.org/2001/XMLSchema-instance",                                          // 0x372
    "http://www.w3.org/2001/XMLSchema",                                                   // 0x374
    "nil",                                                                                // 0x376
    "type",                                                                               // 0x378
    "char",                                                                               // 0x37A
    "boolean",                                                                            // 0x37C
    "byte",                                                                               // 0x37E
    "unsignedByte",                                                                       // 0x380
    "short",                                                                              // 0x382
    "unsignedShort",                                                                      // 0x384
    "int",                                                                                // 0x386
    "unsignedInt",                                                                        // 0x388
    "long",                                                                               // 0x38A
    "unsignedLong",                                                                       // 0x38C
    "float",                                                                              // 0x38E
    "double",                                                                             // 0x390
    "decimal",                                                                            // 0x392
    "dateTime",                                                                           // 0x394
    "string",                                                                             // 0x396
    "base64Binary",                                                                       // 0x398
    "anyType",                                                                            // 0x39A
    "duration",                                                                           // 0x39C
    "guid",                                                                               // 0x39E
    "anyURI",                                                                             // 0x3A0
    "QName",                                                                              // 0x3A2
    "time",                                                                               // 0x3A4
    "date",                                                                               // 0x3A6
    "hexBinary",                                                                          // 0x3A8
    "gYearMonth",                                                                         // 0x3AA
    "gYear",                                                                              // 0x3AC
    "gMonthDay",                                                                          // 0x3AE
    "gDay",                                                                               // 0x3B0
    "gMonth",                                                                             // 0x3B2
    "integer",                                                                            // 0x3B4
    "positiveInteger",                                                                    // 0x3B6
    "negativeInteger",                                                                    // 0x3B8
    "nonPositiveInteger",                                                                 // 0x3BA
    "nonNegativeInteger",                                                                 // 0x3BC
    "normalizedString",                                                                   // 0x3BE
    "ConnectionLimitReached",                                                             // 0x3C0
    "http://schemas.xmlsoap.org/soap/envelope/",                                          // 0x3C2
    "actor",                                                                              // 0x3C4
    "faultcode",                                                                          // 0x3C6
    "faultstring",                                                                        // 0x3C8
    "faultactor",                                                                         // 0x3CA
    "detail",                                                                             // 0x3CC
];

/// The same strings sorted by their bytes, with their ids, for the writer's reverse look-up.
pub(crate) static SORTED_BY_STRING: [(&str, u16); 487] = [
    ("", 0x0A2),
    ("AUTH-HASH", 0x184),
    ("Aborted", 0x312),
    ("Accept", 0x296),
    ("Access", 0x1F6),
    ("AccessDecision", 0x1F8),
    ("AccessDenied", 0x348),
    ("AckRequested", 0x290),
    ("AcknowledgementRange", 0x030),
    ("AcksTo", 0x294),
    ("Action", 0x00A),
    ("ActivationCoordinatorPortType", 0x2EC),
    ("ActivityId", 0x352),
    ("Address", 0x02A),
    ("Advice", 0x1FA),
    ("Algorithm", 0x010),
    ("AlreadyRegistered", 0x2FA),
    ("AppliesTo", 0x18C),
    ("Assertion", 0x166),
    ("AssertionID", 0x1FC),
    ("AssertionIDReference", 0x1FE),
    ("Attribute", 0x200),
    ("AttributeName", 0x202),
    ("AttributeNamespace", 0x204),
    ("AttributeStatement", 0x206),
    ("AttributeValue", 0x208),
    ("Audience", 0x20A),
    ("AudienceRestrictionCondition", 0x20C),
    ("AuthenticationInstant", 0x20E),
    ("AuthenticationMethod", 0x210),
    ("AuthenticationStatement", 0x212),
    ("Authenticator", 0x18E),
    ("AuthorityBinding", 0x214),
    ("AuthorityKind", 0x216),
    ("AuthorizationDecisionStatement", 0x218),
    ("BadContextToken", 0x100),
    ("BinaryExchange", 0x192),
    ("BinarySecret", 0x1A4),
    ("BinarySecurityToken", 0x152),
    ("Binding", 0x21A),
    ("Body", 0x00E),
    ("BufferRemaining", 0x036),
    ("CancelTarget", 0x1E6),
    ("CanonicalizationAlgorithm", 0x1CC),
    ("CanonicalizationMethod", 0x056),
    ("CarriedKeyName", 0x26C),
    ("ChannelInstance", 0x264),
    ("CipherData", 0x062),
    ("CipherValue", 0x064),
    ("Claims", 0x1C0),
    ("Code", 0x08E),
    ("CombinedHash", 0x190),
    ("Commit", 0x30C),
    ("Committed", 0x310),
    ("CompletionCoordinatorPortType", 0x328),
    ("CompletionParticipantPortType", 0x32A),
    ("ComputedKey", 0x19C),
    ("ComputedKeyAlgorithm", 0x1CE),
    ("Condition", 0x21C),
    ("Conditions", 0x21E),
    ("ConfirmationMethod", 0x246),
    ("ConnectionLimitReached", 0x3C0),
    ("Context", 0x1A2),
    ("ContextId", 0x344),
    ("ContextRefused", 0x2F8),
    ("Cookie", 0x0F0),
    ("CoordinationContext", 0x2D0),
    ("CoordinationType", 0x2D4),
    ("CoordinatorPortType", 0x32C),
    ("CoordinatorProtocolService", 0x2DE),
    ("CoordinatorRegistrationFailed", 0x34C),
    ("CreateCoordinationContext", 0x2CC),
    ("CreateCoordinationContextResponse", 0x2CE),
    ("CreateSequence", 0x298),
    ("CreateSequenceRefused", 0x29C),
    ("CreateSequenceResponse", 0x29E),
    ("Created", 0x06C),
    ("CurrentContext", 0x2D2),
    ("DNSAddress", 0x24E),
    ("DataReference", 0x05C),
    ("Decision", 0x220),
    ("DerivedKeyToken", 0x04E),
    ("Description", 0x33E),
    ("Detail", 0x098),
    ("DigestMethod", 0x026),
    ("DigestValue", 0x028),
    ("Disabled", 0x350),
    ("Dns", 0x0C2),
    ("DoNotCacheCondition", 0x222),
    ("EmailName", 0x25E),
    ("Encoding", 0x268),
    ("EncodingType", 0x154),
    ("EncryptWith", 0x1C8),
    ("EncryptedData", 0x05E),
    ("EncryptedHeader", 0x078),
    ("EncryptedKey", 0x270),
    ("EncryptionAlgorithm", 0x1CA),
    ("EncryptionMethod", 0x060),
    ("EndpointReference", 0x0A8),
    ("Enlistment", 0x334),
    ("Entropy", 0x198),
    ("Envelope", 0x002),
    ("Evidence", 0x224),
    ("Expires", 0x06E),
    ("Exponent", 0x284),
    ("FailedAuthentication", 0x16C),
    ("Fault", 0x086),
    ("FaultCode", 0x2A2),
    ("FaultTo", 0x0A6),
    ("FloodMessage", 0x35A),
    ("Format", 0x232),
    ("From", 0x0A4),
    ("Generation", 0x0E8),
    ("Header", 0x008),
    ("Hops", 0x35E),
    ("IPAddress", 0x250),
    ("Id", 0x01C),
    ("Identifier", 0x01E),
    ("Identity", 0x0BA),
    ("InclusiveNamespaces", 0x0E2),
    ("InconsistentInternalState", 0x330),
    ("InvalidAcknowledgement", 0x2A4),
    ("InvalidParameters", 0x2F4),
    ("InvalidPolicy", 0x34A),
    ("InvalidProtocol", 0x2F2),
    ("InvalidRequest", 0x1C2),
    ("InvalidSecurity", 0x170),
    ("InvalidSecurityToken", 0x16E),
    ("InvalidState", 0x2F0),
    ("IsReferenceParameter", 0x0CA),
    ("IsolationFlags", 0x33C),
    ("IsolationLevel", 0x33A),
    ("IssueInstant", 0x226),
    ("IssuedTokens", 0x1EE),
    ("Issuer", 0x228),
    ("KeyIdentifier", 0x156),
    ("KeyInfo", 0x046),
    ("KeyName", 0x27A),
    ("KeyReference", 0x272),
    ("KeySize", 0x188),
    ("KeyType", 0x1BA),
    ("KeyValue", 0x27E),
    ("Label", 0x0EA),
    ("LastMessage", 0x2A6),
    ("LastMessageNumberExceeded", 0x2AA),
    ("Length", 0x070),
    ("Lifetime", 0x194),
    ("LinkUtility", 0x35C),
    ("LocalTransactionId", 0x338),
    ("Location", 0x22A),
    ("Loopback", 0x340),
    ("Lower", 0x034),
    ("MajorVersion", 0x22C),
    ("MessageID", 0x01A),
    ("MessageNumber", 0x040),
    ("MessageNumberRollover", 0x2AC),
    ("Metadata", 0x0D0),
    ("MgmtData", 0x27C),
    ("MimeType", 0x26A),
    ("MinorVersion", 0x22E),
    ("Modulus", 0x282),
    ("MustUnderstand", 0x088),
    ("Nack", 0x2AE),
    ("NameIdentifier", 0x230),
    ("NameQualifier", 0x234),
    ("Namespace", 0x236),
    ("NoActivity", 0x2F6),
    ("Node", 0x094),
    ("Nonce", 0x050),
    ("NotBefore", 0x238),
    ("NotOnOrAfter", 0x23A),
    ("NotUnderstood", 0x09E),
    ("Offer", 0x2B2),
    ("Offset", 0x0EC),
    ("OleTxTransaction", 0x2C4),
    ("PacketRoutable", 0x36C),
    ("ParticipantPortType", 0x32E),
    ("ParticipantProtocolService", 0x2E0),
    ("Password", 0x14A),
    ("PasswordText", 0x14C),
    ("PeerFlooder", 0x366),
    ("PeerTo", 0x368),
    ("PeerVia", 0x362),
    ("PortName", 0x0AE),
    ("PortType", 0x0AA),
    ("PrefixList", 0x0E0),
    ("Prepare", 0x306),
    ("Prepared", 0x308),
    ("PropagationToken", 0x2C6),
    ("Properties", 0x0EE),
    ("ProtocolIdentifier", 0x2DC),
    ("QName", 0x3A2),
    ("RSAKeyValue", 0x280),
    ("ReadOnly", 0x30A),
    ("Reason", 0x090),
    ("Recipient", 0x26E),
    ("RedirectTo", 0x0DA),
    ("Reference", 0x018),
    ("ReferenceList", 0x072),
    ("ReferenceParameters", 0x0C8),
    ("ReferenceProperties", 0x0B0),
    ("Register", 0x2D8),
    ("RegisterInfo", 0x342),
    ("RegisterResponse", 0x2DA),
    ("RegistrationCoordinatorPortType", 0x2EE),
    ("RegistrationService", 0x2D6),
    ("RelatesTo", 0x012),
    ("RelationshipType", 0x0B2),
    ("RenewNeeded", 0x0FE),
    ("RenewTarget", 0x1E4),
    ("Replay", 0x314),
    ("Reply", 0x0B4),
    ("ReplyTo", 0x02C),
    ("RequestFailed", 0x1C4),
    ("RequestSecurityToken", 0x19E),
    ("RequestSecurityTokenResponse", 0x186),
    ("RequestSecurityTokenResponseCollection", 0x07C),
    ("RequestType", 0x1A0),
    ("RequestedAttachedReference", 0x1EA),
    ("RequestedProofToken", 0x19A),
    ("RequestedSecurityToken", 0x196),
    ("RequestedTokenCancelled", 0x1E8),
    ("RequestedTokenReference", 0x18A),
    ("RequestedUnattachedReference", 0x1EC),
    ("Resource", 0x258),
    ("Role", 0x096),
    ("Rollback", 0x30E),
    ("Rsa", 0x0C0),
    ("Security", 0x068),
    ("SecurityContextToken", 0x0E6),
    ("SecurityTokenReference", 0x03C),
    ("Sequence", 0x03E),
    ("SequenceAcknowledgement", 0x02E),
    ("SequenceFault", 0x2B6),
    ("SequenceTerminated", 0x2B8),
    ("ServiceName", 0x0AC),
    ("SignWith", 0x1C6),
    ("Signature", 0x052),
    ("SignatureConfirmation", 0x174),
    ("SignatureMethod", 0x058),
    ("SignatureValue", 0x05A),
    ("SignedInfo", 0x054),
    ("Spn", 0x0BC),
    ("Statement", 0x23E),
    ("Subcode", 0x09C),
    ("Subject", 0x240),
    ("SubjectConfirmation", 0x242),
    ("SubjectConfirmationData", 0x244),
    ("SubjectLocality", 0x24C),
    ("SubjectStatement", 0x252),
    ("TerminateSequence", 0x2BA),
    ("Text", 0x092),
    ("Timestamp", 0x06A),
    ("To", 0x00C),
    ("TokenId", 0x346),
    ("TokenType", 0x176),
    ("TooManyEnlistments", 0x34E),
    ("Transform", 0x024),
    ("Transforms", 0x022),
    ("Type", 0x076),
    ("URI", 0x016),
    ("UnknownSequence", 0x2BE),
    ("Upn", 0x0BE),
    ("Upper", 0x032),
    ("UseKey", 0x1D0),
    ("UserName", 0x25A),
    ("Username", 0x14E),
    ("UsernameToken", 0x150),
    ("Value", 0x09A),
    ("ValueType", 0x074),
    ("Via", 0x0DC),
    ("X509Certificate", 0x28E),
    ("X509Data", 0x286),
    ("X509IssuerName", 0x28A),
    ("X509IssuerSerial", 0x288),
    ("X509SerialNumber", 0x28C),
    ("X509v3Certificate", 0x0C4),
    ("a", 0x0B6),
    ("actor", 0x3C4),
    ("anyType", 0x39A),
    ("anyURI", 0x3A0),
    ("base64Binary", 0x398),
    ("boolean", 0x37C),
    ("byte", 0x37E),
    ("c", 0x102),
    ("char", 0x37A),
    ("date", 0x3A6),
    ("dateTime", 0x394),
    ("decimal", 0x392),
    ("detail", 0x3CC),
    ("dnse", 0x146),
    ("double", 0x390),
    ("duration", 0x39C),
    ("e", 0x274),
    ("ec", 0x0E4),
    ("faultactor", 0x3CA),
    ("faultcode", 0x3C6),
    ("faultstring", 0x3C8),
    ("float", 0x38E),
    ("gDay", 0x3B0),
    ("gMonth", 0x3B2),
    ("gMonthDay", 0x3AE),
    ("gYear", 0x3AC),
    ("gYearMonth", 0x3AA),
    ("guid", 0x39E),
    ("hexBinary", 0x3A8),
    ("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary", 0x158),
    ("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#HexBinary", 0x15A),
    ("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Text", 0x15C),
    ("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd", 0x048),
    ("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd", 0x066),
    ("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier", 0x15E),
    ("http://docs.oasis-open.org/wss/oasis-wss-kerberos-token-profile-1.1#GSS_Kerberosv5_AP_REQ", 0x160),
    ("http://docs.oasis-open.org/wss/oasis-wss-kerberos-token-profile-1.1#GSS_Kerberosv5_AP_REQ1510", 0x162),
    ("http://docs.oasis-open.org/wss/oasis-wss-kerberos-token-profile-1.1#Kerberosv5APREQSHA1", 0x356),
    ("http://docs.oasis-open.org/wss/oasis-wss-rel-token-profile-1.0.pdf#license", 0x16A),
    ("http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID", 0x164),
    ("http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID", 0x182),
    ("http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1", 0x17E),
    ("http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0", 0x180),
    ("http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#EncryptedKey", 0x17A),
    ("http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#EncryptedKeySHA1", 0x17C),
    ("http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1", 0x178),
    ("http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd", 0x07A),
    ("http://schemas.microsoft.com/2004/09/ServiceModel/Diagnostics", 0x354),
    ("http://schemas.microsoft.com/net/2004/07/secext/TLSNego", 0x1D4),
    ("http://schemas.microsoft.com/net/2004/07/secext/WS-SPNego", 0x1D2),
    ("http://schemas.microsoft.com/net/2006/05/peer", 0x364),
    ("http://schemas.microsoft.com/net/2006/05/peer/HopCount", 0x360),
    ("http://schemas.microsoft.com/ws/2005/02/duplex", 0x266),
    ("http://schemas.microsoft.com/ws/2005/05/addressing/none", 0x36E),
    ("http://schemas.microsoft.com/ws/2005/05/envelope/none", 0x370),
    ("http://schemas.microsoft.com/ws/2005/05/routing", 0x36A),
    ("http://schemas.microsoft.com/ws/2006/02/transactions", 0x082),
    ("http://schemas.microsoft.com/ws/2006/02/tx/oletx", 0x2C0),
    ("http://schemas.microsoft.com/ws/2006/05/rm", 0x038),
    ("http://schemas.microsoft.com/ws/2006/05/security", 0x144),
    ("http://schemas.xmlsoap.org/2005/02/trust/spnego#GSS_Wrap", 0x142),
    ("http://schemas.xmlsoap.org/2005/02/trust/tlsnego#TLS_Wrap", 0x140),
    ("http://schemas.xmlsoap.org/soap/envelope/", 0x3C2),
    ("http://schemas.xmlsoap.org/ws/2002/12/policy", 0x358),
    ("http://schemas.xmlsoap.org/ws/2004/04/sc", 0x0F4),
    ("http://schemas.xmlsoap.org/ws/2004/04/security/sc/dk", 0x0F6),
    ("http://schemas.xmlsoap.org/ws/2004/04/security/sc/sct", 0x0F8),
    ("http://schemas.xmlsoap.org/ws/2004/04/security/trust/CK/PSHA1", 0x1B4),
    ("http://schemas.xmlsoap.org/ws/2004/04/security/trust/Issue", 0x1B2),
    ("http://schemas.xmlsoap.org/ws/2004/04/security/trust/Nonce", 0x1B8),
    ("http://schemas.xmlsoap.org/ws/2004/04/security/trust/RST/Issue", 0x1AE),
    ("http://schemas.xmlsoap.org/ws/2004/04/security/trust/RST/SCT", 0x0FA),
    ("http://schemas.xmlsoap.org/ws/2004/04/security/trust/RSTR/Issue", 0x1B0),
    ("http://schemas.xmlsoap.org/ws/2004/04/security/trust/RSTR/SCT", 0x0FC),
    ("http://schemas.xmlsoap.org/ws/2004/04/security/trust/SymmetricKey", 0x1B6),
    ("http://schemas.xmlsoap.org/ws/2004/04/trust", 0x1AC),
    ("http://schemas.xmlsoap.org/ws/2004/04/trust/PublicKey", 0x1BE),
    ("http://schemas.xmlsoap.org/ws/2004/04/trust/SymmetricKey", 0x1BC),
    ("http://schemas.xmlsoap.org/ws/2004/06/addressingex", 0x0D8),
    ("http://schemas.xmlsoap.org/ws/2004/08/addressing", 0x0D2),
    ("http://schemas.xmlsoap.org/ws/2004/08/addressing/fault", 0x0D6),
    ("http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous", 0x0D4),
    ("http://schemas.xmlsoap.org/ws/2004/10/wsat", 0x2FC),
    ("http://schemas.xmlsoap.org/ws/2004/10/wsat/Aborted", 0x31C),
    ("http://schemas.xmlsoap.org/ws/2004/10/wsat/Commit", 0x316),
    ("http://schemas.xmlsoap.org/ws/2004/10/wsat/Committed", 0x31A),
    ("http://schemas.xmlsoap.org/ws/2004/10/wsat/Completion", 0x300),
    ("http://schemas.xmlsoap.org/ws/2004/10/wsat/Durable2PC", 0x302),
    ("http://schemas.xmlsoap.org/ws/2004/10/wsat/Prepare", 0x31E),
    ("http://schemas.xmlsoap.org/ws/2004/10/wsat/Prepared", 0x320),
    ("http://schemas.xmlsoap.org/ws/2004/10/wsat/ReadOnly", 0x322),
    ("http://schemas.xmlsoap.org/ws/2004/10/wsat/Replay", 0x324),
    ("http://schemas.xmlsoap.org/ws/2004/10/wsat/Rollback", 0x318),
    ("http://schemas.xmlsoap.org/ws/2004/10/wsat/Volatile2PC", 0x304),
    ("http://schemas.xmlsoap.org/ws/2004/10/wsat/fault", 0x326),
    ("http://schemas.xmlsoap.org/ws/2004/10/wscoor", 0x2C8),
    ("http://schemas.xmlsoap.org/ws/2004/10/wscoor/CreateCoordinationContext", 0x2E2),
    ("http://schemas.xmlsoap.org/ws/2004/10/wscoor/CreateCoordinationContextResponse", 0x2E4),
    ("http://schemas.xmlsoap.org/ws/2004/10/wscoor/Register", 0x2E6),
    ("http://schemas.xmlsoap.org/ws/2004/10/wscoor/RegisterResponse", 0x2E8),
    ("http://schemas.xmlsoap.org/ws/2004/10/wscoor/fault", 0x2EA),
    ("http://schemas.xmlsoap.org/ws/2005/02/rm", 0x020),
    ("http://schemas.xmlsoap.org/ws/2005/02/rm/AckRequested", 0x292),
    ("http://schemas.xmlsoap.org/ws/2005/02/rm/CreateSequence", 0x29A),
    ("http://schemas.xmlsoap.org/ws/2005/02/rm/CreateSequenceResponse", 0x2A0),
    ("http://schemas.xmlsoap.org/ws/2005/02/rm/LastMessage", 0x2A8),
    ("http://schemas.xmlsoap.org/ws/2005/02/rm/SequenceAcknowledgement", 0x03A),
    ("http://schemas.xmlsoap.org/ws/2005/02/rm/TerminateSequence", 0x2BC),
    ("http://schemas.xmlsoap.org/ws/2005/02/sc", 0x04C),
    ("http://schemas.xmlsoap.org/ws/2005/02/sc/dk", 0x104),
    ("http://schemas.xmlsoap.org/ws/2005/02/sc/dk/p_sha1", 0x12A),
    ("http://schemas.xmlsoap.org/ws/2005/02/sc/sct", 0x106),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust", 0x07E),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust#BinarySecret", 0x080),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust/CK/PSHA1", 0x1E0),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust/Cancel", 0x1F2),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust/Issue", 0x1DC),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust/Nonce", 0x1E2),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust/PublicKey", 0x1F4),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue", 0x1D8),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust/RST/SCT", 0x108),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust/RST/SCT/Cancel", 0x110),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust/RST/SCT/Renew", 0x10C),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/Issue", 0x1DA),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/SCT", 0x10A),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/SCT/Cancel", 0x112),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/SCT/Renew", 0x10E),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust/Renew", 0x1F0),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust/SymmetricKey", 0x1DE),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust/spnego", 0x1A6),
    ("http://schemas.xmlsoap.org/ws/2005/02/trust/tlsnego", 0x1A8),
    ("http://schemas.xmlsoap.org/ws/2006/02/addressingidentity", 0x0B8),
    ("http://www.w3.org/2000/09/xmldsig#", 0x042),
    ("http://www.w3.org/2000/09/xmldsig#dsa-sha1", 0x122),
    ("http://www.w3.org/2000/09/xmldsig#enveloped-signature", 0x044),
    ("http://www.w3.org/2000/09/xmldsig#hmac-sha1", 0x126),
    ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", 0x130),
    ("http://www.w3.org/2000/09/xmldsig#sha1", 0x136),
    ("http://www.w3.org/2001/04/xmldsig-more#hmac-sha256", 0x128),
    ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", 0x132),
    ("http://www.w3.org/2001/04/xmlenc#", 0x04A),
    ("http://www.w3.org/2001/04/xmlenc#Content", 0x278),
    ("http://www.w3.org/2001/04/xmlenc#Element", 0x276),
    ("http://www.w3.org/2001/04/xmlenc#aes128-cbc", 0x114),
    ("http://www.w3.org/2001/04/xmlenc#aes192-cbc", 0x118),
    ("http://www.w3.org/2001/04/xmlenc#aes256-cbc", 0x11C),
    ("http://www.w3.org/2001/04/xmlenc#des-cbc", 0x120),
    ("http://www.w3.org/2001/04/xmlenc#kw-aes128", 0x116),
    ("http://www.w3.org/2001/04/xmlenc#kw-aes192", 0x11A),
    ("http://www.w3.org/2001/04/xmlenc#kw-aes256", 0x11E),
    ("http://www.w3.org/2001/04/xmlenc#kw-tripledes", 0x13E),
    ("http://www.w3.org/2001/04/xmlenc#ripemd160", 0x12C),
    ("http://www.w3.org/2001/04/xmlenc#rsa-1_5", 0x134),
    ("http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p", 0x12E),
    ("http://www.w3.org/2001/04/xmlenc#sha256", 0x138),
    ("http://www.w3.org/2001/04/xmlenc#sha512", 0x13A),
    ("http://www.w3.org/2001/04/xmlenc#tripledes-cbc", 0x13C),
    ("http://www.w3.org/2001/10/xml-exc-c14n#", 0x0DE),
    ("http://www.w3.org/2001/10/xml-exc-c14n#WithComments", 0x124),
    ("http://www.w3.org/2001/XMLSchema", 0x374),
    ("http://www.w3.org/2001/XMLSchema-instance", 0x372),
    ("http://www.w3.org/2003/05/soap-envelope", 0x004),
    ("http://www.w3.org/2005/08/addressing", 0x006),
    ("http://www.w3.org/2005/08/addressing/anonymous", 0x014),
    ("http://www.w3.org/2005/08/addressing/fault", 0x0C6),
    ("http://www.w3.org/2005/08/addressing/none", 0x0CE),
    ("http://www.w3.org/2005/08/addressing/reply", 0x0CC),
    ("int", 0x386),
    ("integer", 0x3B4),
    ("k", 0x172),
    ("long", 0x38A),
    ("mstx", 0x332),
    ("mustUnderstand", 0x000),
    ("negativeInteger", 0x3B8),
    ("netrm", 0x2B0),
    ("nil", 0x376),
    ("nonNegativeInteger", 0x3BC),
    ("nonPositiveInteger", 0x3BA),
    ("normalizedString", 0x3BE),
    ("o", 0x148),
    ("oletx", 0x2C2),
    ("positiveInteger", 0x3B6),
    ("protocol", 0x336),
    ("qname", 0x0A0),
    ("r", 0x2B4),
    ("relay", 0x08C),
    ("role", 0x08A),
    ("s", 0x084),
    ("saml", 0x23C),
    ("short", 0x382),
    ("string", 0x396),
    ("t", 0x1D6),
    ("time", 0x3A4),
    ("type", 0x378),
    ("u", 0x262),
    ("unsignedByte", 0x380),
    ("unsignedInt", 0x388),
    ("unsignedLong", 0x38C),
    ("unsignedShort", 0x384),
    ("urn:oasis:names:tc:SAML:1.0:am:unspecified", 0x254),
    ("urn:oasis:names:tc:SAML:1.0:assertion", 0x168),
    ("urn:oasis:names:tc:SAML:1.0:cm:holder-of-key", 0x248),
    ("urn:oasis:names:tc:SAML:1.0:cm:sender-vouches", 0x24A),
    ("urn:oasis:names:tc:SAML:1.1:nameid-format:WindowsDomainQualifiedName", 0x25C),
    ("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", 0x260),
    ("wsat", 0x2FE),
    ("wsc", 0x0F2),
    ("wscoor", 0x2CA),
    ("wst", 0x1AA),
    ("xmlns", 0x256),
];
