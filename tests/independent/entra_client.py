#!/usr/bin/env python3
"""An independent client of the Entra sync API, for checking the emulator.

Written from the protocol doc (entra-sync-protocol.md), not from the project's Rust code:
its own msbin1 (.NET Binary XML) encoder and decoder, its own MD4, PBKDF2 from hashlib,
HTTP with urllib. Standard library only.

Usage: entra_client.py BASE_URL TENANT_ID
  The emulator must approve device codes by itself (--auto-approve).

It signs in with the device code flow, enables password hash sync, adds a user and a group
with that user as member, pushes the user's PHS credential, reads both back, and checks the
emulator's sign-in (verify-password) for the right and a wrong password. Exit status 0 when
every check passed.
"""

import base64
import hashlib
import json
import os
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
SCOPE = "https://graph.windows.net/.default offline_access openid profile"
BUILD = "2.6.3.0"

NS_S = "http://www.w3.org/2003/05/soap-envelope"
NS_A = "http://www.w3.org/2005/08/addressing"
NS_SYNC = "http://schemas.microsoft.com/online/aws/change/2010/01"
NS_OBJ = "http://schemas.microsoft.com/online/aws/change/2014/06"
NS_COEX = "http://schemas.datacontract.org/2004/07/Microsoft.Online.Coexistence.Schema"
NS_ARR = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_XSD = "http://www.w3.org/2001/XMLSchema"
NS_ADMIN = "urn:microsoft.online.administrativeservice"
NS_XML = "http://www.w3.org/XML/1998/namespace"

# The static dictionary entries of protocol doc section 6.4 (the ids these messages use).
DICTIONARY = {
    0x00: "mustUnderstand", 0x02: "Envelope", 0x04: NS_S, 0x06: NS_A, 0x08: "Header",
    0x0A: "Action", 0x0C: "To", 0x0E: "Body", 0x12: "RelatesTo",
    0x14: "http://www.w3.org/2005/08/addressing/anonymous", 0x1A: "MessageID", 0x2A: "Address",
    0x2C: "ReplyTo", 0x33E: "Description", 0x84: "s", 0x86: "Fault", 0x8A: "role", 0x8E: "Code",
    0x90: "Reason", 0x92: "Text", 0x98: "Detail", 0x9A: "Value", 0x9C: "Subcode", 0xB6: "a",
    0x372: NS_XSI, 0x374: NS_XSD, 0x376: "nil", 0x378: "type", 0x37C: "boolean", 0x386: "int",
    0x38A: "long", 0x394: "dateTime", 0x396: "string", 0x398: "base64Binary", 0x39A: "anyType",
    0x39E: "guid",
}


class Failed(Exception):
    pass


def check(condition, what):
    if not condition:
        raise Failed(what)
    CHECKS.append(what)


CHECKS = []


# ---------------------------------------------------------------- MD4 (RFC 1320), pure Python

def md4(data):
    def f(x, y, z):
        return (x & y) | (~x & z)

    def g(x, y, z):
        return (x & y) | (x & z) | (y & z)

    def h(x, y, z):
        return x ^ y ^ z

    def rotl(v, s):
        v &= 0xFFFFFFFF
        return ((v << s) | (v >> (32 - s))) & 0xFFFFFFFF

    message = bytearray(data)
    bit_length = (8 * len(data)) & 0xFFFFFFFFFFFFFFFF
    message.append(0x80)
    while len(message) % 64 != 56:
        message.append(0)
    message += struct.pack("<Q", bit_length)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for offset in range(0, len(message), 64):
        x = struct.unpack("<16I", bytes(message[offset:offset + 64]))
        aa, bb, cc, dd = a, b, c, d
        for i in range(16):
            k, s = i, (3, 7, 11, 19)[i % 4]
            if i % 4 == 0:
                a = rotl(a + f(b, c, d) + x[k], s)
            elif i % 4 == 1:
                d = rotl(d + f(a, b, c) + x[k], s)
            elif i % 4 == 2:
                c = rotl(c + f(d, a, b) + x[k], s)
            else:
                b = rotl(b + f(c, d, a) + x[k], s)
        for i in range(16):
            k, s = (i % 4) * 4 + i // 4, (3, 5, 9, 13)[i % 4]
            if i % 4 == 0:
                a = rotl(a + g(b, c, d) + x[k] + 0x5A827999, s)
            elif i % 4 == 1:
                d = rotl(d + g(a, b, c) + x[k] + 0x5A827999, s)
            elif i % 4 == 2:
                c = rotl(c + g(d, a, b) + x[k] + 0x5A827999, s)
            else:
                b = rotl(b + g(c, d, a) + x[k] + 0x5A827999, s)
        order = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)
        for i in range(16):
            k, s = order[i], (3, 9, 11, 15)[i % 4]
            if i % 4 == 0:
                a = rotl(a + h(b, c, d) + x[k] + 0x6ED9EBA1, s)
            elif i % 4 == 1:
                d = rotl(d + h(a, b, c) + x[k] + 0x6ED9EBA1, s)
            elif i % 4 == 2:
                c = rotl(c + h(d, a, b) + x[k] + 0x6ED9EBA1, s)
            else:
                b = rotl(b + h(c, d, a) + x[k] + 0x6ED9EBA1, s)
        a, b, c, d = (a + aa) & 0xFFFFFFFF, (b + bb) & 0xFFFFFFFF, (c + cc) & 0xFFFFFFFF, (d + dd) & 0xFFFFFFFF
    return struct.pack("<4I", a, b, c, d)


def credential_data(password, salt):
    """Protocol doc section 7.1: v1;PPH1_MD4,<salt hex>,1000,<PBKDF2 key hex>;"""
    nt_hash = md4(password.encode("utf-16-le"))
    hex_upper = nt_hash.hex().upper()
    key = hashlib.pbkdf2_hmac("sha256", hex_upper.encode("utf-16-le"), salt, 1000, 32)
    return "v1;PPH1_MD4,%s,1000,%s;" % (salt.hex(), key.hex())


# ---------------------------------------------------------------- msbin1 encoder

class E:
    """An element: qualified name, attributes [(qualified name, value)], children (E or str)."""

    def __init__(self, name, attrs=(), children=()):
        self.name = name
        self.attrs = list(attrs)
        self.children = [c for c in children if c is not None]


def mb31(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def string(s):
    data = s.encode("utf-8")
    return mb31(len(data)) + data


def chars(text, end):
    data = text.encode("utf-8")
    if len(data) < 0x100:
        return bytes([0x98 | end, len(data)]) + data
    if len(data) < 0x10000:
        return bytes([0x9A | end]) + struct.pack("<H", len(data)) + data
    return bytes([0x9C | end]) + struct.pack("<i", len(data)) + data


def letter(prefix):
    if len(prefix) == 1 and "a" <= prefix <= "z":
        return ord(prefix) - ord("a")
    return None


def encode(element):
    """Every name and namespace as a String record, every text as Chars*Text (section 6.6)."""
    out = bytearray()
    prefix, _, local = element.name.rpartition(":")
    if not prefix:
        out += b"\x40" + string(local)
    elif letter(prefix) is not None:
        out += bytes([0x5E + letter(prefix)]) + string(local)
    else:
        out += b"\x41" + string(prefix) + string(local)
    for name, value in element.attrs:
        if name == "xmlns":
            out += b"\x08" + string(value)
        elif name.startswith("xmlns:"):
            out += b"\x09" + string(name[6:]) + string(value)
        else:
            p, _, n = name.rpartition(":")
            if not p:
                out += b"\x04" + string(n)
            elif letter(p) is not None:
                out += bytes([0x26 + letter(p)]) + string(n)
            else:
                out += b"\x05" + string(p) + string(n)
            out += chars(value, 0)
    children = [c for c in element.children if not (isinstance(c, str) and c == "")]
    for i, child in enumerate(children):
        last = i == len(children) - 1
        if isinstance(child, str):
            out += chars(child, 1 if last else 0)
            if last:
                return bytes(out)
        else:
            out += encode(child)
    out += b"\x01"
    return bytes(out)


# ---------------------------------------------------------------- msbin1 decoder

class Node:
    def __init__(self, prefix, local):
        self.prefix = prefix
        self.local = local
        self.attrs = []  # (prefix, name, value)
        self.children = []
        self.ns_decl = {}
        self.parent = None

    def lookup(self, prefix):
        node = self
        while node is not None:
            if prefix in node.ns_decl:
                return node.ns_decl[prefix]
            node = node.parent
        if prefix == "xml":
            return NS_XML
        return "" if prefix == "" else None

    @property
    def ns(self):
        return self.lookup(self.prefix)

    def elements(self):
        return [c for c in self.children if isinstance(c, Node)]

    def child(self, ns, local):
        for c in self.elements():
            if c.local == local and c.ns == ns:
                return c
        return None

    def text(self):
        return "".join(c for c in self.children if isinstance(c, str))

    def attr(self, ns, local):
        for p, n, v in self.attrs:
            if n == local and (self.lookup(p) if p else "") == ns:
                return v
        return None


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def byte(self):
        if self.pos >= len(self.data):
            raise Failed("msbin1 response ends early")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def take(self, n):
        if self.pos + n > len(self.data):
            raise Failed("msbin1 response ends early")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def mb31(self):
        value, shift = 0, 0
        for _ in range(5):
            b = self.byte()
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7
        raise Failed("bad MultiByteInt31")

    def string(self):
        return self.take(self.mb31()).decode("utf-8")

    def dictionary(self):
        key = self.mb31()
        if key % 2:
            raise Failed("odd dictionary id %d (no in-band dictionary on this endpoint)" % key)
        if key not in DICTIONARY:
            raise Failed("dictionary id 0x%X unknown to this client" % key)
        return DICTIONARY[key]

    def text(self, record):
        """Canonical text of a text record (even or odd type)."""
        kind = record & ~1
        if kind == 0x80:
            return "0"
        if kind == 0x82:
            return "1"
        if kind == 0x84:
            return "false"
        if kind == 0x86:
            return "true"
        if kind == 0x88:
            return str(struct.unpack("<b", self.take(1))[0])
        if kind == 0x8A:
            return str(struct.unpack("<h", self.take(2))[0])
        if kind == 0x8C:
            return str(struct.unpack("<i", self.take(4))[0])
        if kind == 0x8E:
            return str(struct.unpack("<q", self.take(8))[0])
        if kind in (0x98, 0x9A, 0x9C):
            size = {0x98: "<B", 0x9A: "<H", 0x9C: "<i"}[kind]
            n = struct.unpack(size, self.take(struct.calcsize(size)))[0]
            return self.take(n).decode("utf-8")
        if kind in (0x9E, 0xA0, 0xA2):
            size = {0x9E: "<B", 0xA0: "<H", 0xA2: "<i"}[kind]
            n = struct.unpack(size, self.take(struct.calcsize(size)))[0]
            return base64.b64encode(self.take(n)).decode("ascii")
        if kind == 0xA8:
            return ""
        if kind == 0xAA:
            return self.dictionary()
        if kind == 0xAC:
            return "urn:uuid:" + str(uuid.UUID(bytes_le=self.take(16)))
        if kind == 0xB0:
            return str(uuid.UUID(bytes_le=self.take(16)))
        if kind == 0xB4:
            return "true" if self.byte() else "false"
        if kind in (0xB6, 0xB8, 0xBA):
            size = {0xB6: "<B", 0xB8: "<H", 0xBA: "<i"}[kind]
            n = struct.unpack(size, self.take(struct.calcsize(size)))[0]
            return self.take(n).decode("utf-16-le")
        raise Failed("text record 0x%02X not handled by this client" % record)


def decode(data):
    r = Reader(data)
    stack, root = [], None
    while r.pos < len(data):
        rec = r.byte()
        if rec == 0x01:
            if not stack:
                raise Failed("unbalanced end element")
            stack.pop()
            continue
        if 0x40 <= rec <= 0x77:
            if rec == 0x40:
                node = Node("", r.string())
            elif rec == 0x41:
                p = r.string()
                node = Node(p, r.string())
            elif rec == 0x42:
                node = Node("", r.dictionary())
            elif rec == 0x43:
                p = r.string()
                node = Node(p, r.dictionary())
            elif rec <= 0x5D:
                node = Node(chr(ord("a") + rec - 0x44), r.dictionary())
            else:
                node = Node(chr(ord("a") + rec - 0x5E), r.string())
            if stack:
                node.parent = stack[-1]
                stack[-1].children.append(node)
            elif root is None:
                root = node
            else:
                raise Failed("two root elements")
            stack.append(node)
            # attributes
            while r.pos < len(data) and 0x04 <= data[r.pos] <= 0x3F:
                a = r.byte()
                if a == 0x04:
                    node.attrs.append(("", r.string(), r.text(r.byte())))
                elif a == 0x05:
                    p = r.string()
                    n = r.string()
                    node.attrs.append((p, n, r.text(r.byte())))
                elif a == 0x06:
                    node.attrs.append(("", r.dictionary(), r.text(r.byte())))
                elif a == 0x07:
                    p = r.string()
                    n = r.dictionary()
                    node.attrs.append((p, n, r.text(r.byte())))
                elif a == 0x08:
                    node.ns_decl[""] = r.string()
                elif a == 0x09:
                    p = r.string()
                    node.ns_decl[p] = r.string()
                elif a == 0x0A:
                    node.ns_decl[""] = r.dictionary()
                elif a == 0x0B:
                    p = r.string()
                    node.ns_decl[p] = r.dictionary()
                elif a <= 0x25:
                    n = r.dictionary()
                    node.attrs.append((chr(ord("a") + a - 0x0C), n, r.text(r.byte())))
                else:
                    n = r.string()
                    node.attrs.append((chr(ord("a") + a - 0x26), n, r.text(r.byte())))
            continue
        if 0x80 <= rec <= 0xBD:
            if not stack:
                raise Failed("text outside the root element")
            stack[-1].children.append(r.text(rec))
            if rec & 1:
                stack.pop()
            continue
        raise Failed("record 0x%02X not handled by this client" % rec)
    if stack or root is None:
        raise Failed("unbalanced msbin1 document")
    return root


# ---------------------------------------------------------------- HTTP

def http(method, url, body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def post_form(url, fields):
    status, _, body = http("POST", url, urllib.parse.urlencode(fields).encode("ascii"),
                           {"Content-Type": "application/x-www-form-urlencoded"})
    return status, json.loads(body.decode("utf-8"))


def admin(base, method, path, payload=None):
    body = None if payload is None else json.dumps(payload).encode("utf-8")
    status, _, data = http(method, base + path, body, {"Content-Type": "application/json"})
    return status, (json.loads(data.decode("utf-8")) if data else None)


def sign_in(base, tenant):
    status, code = post_form("%s/%s/oauth2/v2.0/devicecode" % (base, tenant), {"client_id": CLIENT_ID, "scope": SCOPE})
    check(status == 200 and "device_code" in code and "user_code" in code, "device code issued")
    for _ in range(60):
        status, token = post_form("%s/%s/oauth2/v2.0/token" % (base, tenant), {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "client_id": CLIENT_ID, "device_code": code["device_code"], "client_info": "1"})
        if status == 200:
            check("access_token" in token and "refresh_token" in token, "token issued after polling")
            return token["access_token"]
        check(token.get("error") == "authorization_pending", "polling answers authorization_pending")
        time.sleep(min(int(code.get("interval", 1)), 1))
    raise Failed("the device code was never approved")


def sync_call(base, token, operation, body):
    guid = str(uuid.uuid4())

    def child(name, value):
        return E(name, [("xmlns", NS_SYNC)], [value])

    envelope = E("s:Envelope", [("xmlns:s", NS_S), ("xmlns:a", NS_A)], [
        E("s:Header", [], [
            E("a:Action", [("s:mustUnderstand", "1")], [NS_SYNC + "/IProvisioningWebService/" + operation]),
            E("SyncToken", [("s:role", NS_ADMIN), ("xmlns", NS_ADMIN), ("xmlns:i", NS_XSI)], [
                child("ApplicationId", "1651564e-7ce4-4d99-88be-0a65050d8dc3"),
                child("BearerToken", token),
                child("ClientVersion", "8.0"),
                child("DirSyncBuildNumber", BUILD),
                child("FIMBuildNumber", BUILD),
                child("IsInstalledOnDC", "false"),
                child("IssueDateTime", "0001-01-01T00:00:00"),
                child("LanguageId", "en-US"),
                E("LiveToken", [("xmlns", NS_SYNC)]),
                child("ProtocolVersion", "2.0"),
                child("RichCoexistenceEnabled", "false"),
                child("TrackingId", guid),
            ]),
            E("a:MessageID", [], ["urn:uuid:" + guid]),
            E("a:ReplyTo", [], [E("a:Address", [], ["http://www.w3.org/2005/08/addressing/anonymous"])]),
            E("a:To", [("s:mustUnderstand", "1")], ["https://adminwebservice.microsoftonline.com/provisioningservice.svc"]),
        ]),
        E("s:Body", [], [body]),
    ])
    status, headers, data = http("POST", base + "/provisioningservice.svc", encode(envelope), {
        "Content-Type": "application/soap+msbin1", "client-request-id": guid,
        "x-ms-aadmsods-apiaction": operation, "x-ms-aadmsods-dirsyncbuildnumber": BUILD})
    root = decode(data)
    check(root.local == "Envelope" and root.ns == NS_S, "%s answers a SOAP 1.2 envelope" % operation)
    header = root.child(NS_S, "Header")
    relates = header.child(NS_A, "RelatesTo") if header else None
    check(relates is not None and relates.text() == "urn:uuid:" + guid, "%s relates to its MessageID" % operation)
    body_node = root.child(NS_S, "Body")
    fault = body_node.child(NS_S, "Fault")
    if fault is not None:
        reason = fault.child(NS_S, "Reason").child(NS_S, "Text").text()
        raise Failed("%s failed with HTTP %d: %s" % (operation, status, reason))
    check(status == 200, "%s answers HTTP 200" % operation)
    response = body_node.child(NS_SYNC, operation + "Response")
    check(response is not None, "%s has its Response element" % operation)
    return response


def kv(key, value_element):
    return E("c:KeyValueOfstringanyType", [], [E("c:Key", [], [key]), value_element])


def s_value(text):
    return E("c:Value", [("i:type", "d:string"), ("xmlns:d", NS_XSD)], [text])


def b_value(flag):
    return E("c:Value", [("i:type", "d:boolean"), ("xmlns:d", NS_XSD)], ["true" if flag else "false"])


def list_value(items):
    return E("c:Value", [("i:type", "c:ArrayOfstring")], [E("c:string", [], [i]) for i in items])


def provision(base, token, kind, properties):
    body = E("ProvisionAzureADSyncObjects", [("xmlns", NS_SYNC)], [
        E("syncRequest", [("xmlns:b", NS_OBJ), ("xmlns:i", NS_XSI)], [
            E("b:SyncObjects", [], [
                E("b:AzureADSyncObject", [], [
                    E("b:PropertyValues", [("xmlns:c", NS_ARR)], properties),
                    E("b:SyncObjectType", [], [kind]),
                    E("b:SyncOperation", [], ["Set"]),
                ])])])])
    response = sync_call(base, token, "ProvisionAzureADSyncObjects", body)
    result = response.child(NS_SYNC, "ProvisionAzureADSyncObjectsResult").child(NS_OBJ, "SyncObjectResults")
    item = result.elements()[0]
    check(item.child(NS_OBJ, "ResultCode").text() == "Success", "%s provisioned" % kind)
    check(item.child(NS_OBJ, "ResultErrorDescription").attr(NS_XSI, "nil") == "true", "%s without warning" % kind)
    cloud = item.child(NS_OBJ, "CloudAnchor").text()
    check(cloud.startswith(kind + "_"), "%s got CloudAnchor %s" % (kind, cloud))
    return cloud


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    base, tenant = sys.argv[1].rstrip("/"), sys.argv[2]

    check(md4(b"").hex() == "31d6cfe0d16ae931b73c59d7e0c089c0", "MD4 of the empty string (RFC 1320)")
    check(md4(b"abc").hex() == "a448017aaf21d8525fc10ae87aa6729d", "MD4 of 'abc' (RFC 1320)")
    check(md4("password".encode("utf-16-le")).hex().upper() == "8846F7EAEE8FB117AD06BDD830B7586C", "NT hash of 'password'")
    check(credential_data("Pa$$w0rd", bytes(range(10))) ==
          "v1;PPH1_MD4,00010203040506070809,1000,ebbc7201bdbb81a9c23c9d47d2273a2d5097c589c707451d3d0accb1db62f7c6;",
          "PHS credential test vector of section 7.2")

    token = sign_in(base, tenant)

    config = sync_call(base, token, "GetCompanyConfiguration", E("GetCompanyConfiguration", [("xmlns", NS_SYNC)], [
        E("includeLicenseInformation", [], ["false"])]))
    result = config.child(NS_SYNC, "GetCompanyConfigurationResult")
    check(result.child(NS_SYNC, "TenantId").text() == tenant, "GetCompanyConfiguration names the tenant")
    features = int(result.child(NS_SYNC, "DirSyncFeatures").text())
    sync_call(base, token, "SetCompanyDirsyncFeatures", E("SetCompanyDirsyncFeatures", [("xmlns", NS_SYNC)], [
        E("dirsyncFeatures", [], [str(features | 1)])]))

    user_anchor = base64.b64encode(uuid.uuid4().bytes_le).decode("ascii")
    group_anchor = base64.b64encode(uuid.uuid4().bytes_le).decode("ascii")
    upn = "indie.%s@contoso.example" % os.getpid()
    provision(base, token, "User", [
        kv("SourceAnchor", s_value(user_anchor)),
        kv("accountEnabled", b_value(True)),
        kv("userPrincipalName", s_value(upn)),
        kv("displayName", s_value("Independent Client")),
        kv("proxyAddresses", list_value(["SMTP:" + upn])),
        kv("title", E("c:Value", [("i:nil", "true")])),
    ])
    provision(base, token, "Group", [
        kv("SourceAnchor", s_value(group_anchor)),
        kv("displayName", s_value("Independent Group")),
        kv("securityEnabled", b_value(True)),
        kv("member", list_value([user_anchor])),
    ])

    password = "Correct-Horse-%d" % os.getpid()
    item = E("b:SyncCredentialsChangeItem", [], [
        E("b:ChangeDate", [], [time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime())]),
        E("b:CloudAnchor", [("i:nil", "true")]),
        E("b:CredentialData", [], [credential_data(password, os.urandom(10))]),
        E("b:ForcePasswordChangeOnLogon", [], ["false"]),
        E("b:SourceAnchor", [], [user_anchor]),
        E("b:WindowsLegacyCredentials", [("i:nil", "true")]),
        E("b:WindowsSupplementalCredentials", [("i:nil", "true")]),
    ])
    response = sync_call(base, token, "ProvisionCredentials", E("ProvisionCredentials", [("xmlns", NS_SYNC)], [
        E("request", [("xmlns:b", NS_COEX), ("xmlns:i", NS_XSI)], [E("b:RequestItems", [], [item])])]))
    results = response.child(NS_SYNC, "ProvisionCredentialsResult").child(NS_COEX, "Results").elements()
    check(len(results) == 1 and results[0].child(NS_COEX, "Result").text() == "0", "credential accepted (Result 0)")
    check(results[0].child(NS_COEX, "SourceAnchor").text() == user_anchor, "credential result echoes the anchor")

    op = "ReadBackAzureADSyncObjects2"
    response = sync_call(base, token, op, E(op, [("xmlns", NS_SYNC)], [
        E("includeLicenseInformation", [], ["true"]),
        E("inputCookie", [("i:nil", "true"), ("xmlns:i", NS_XSI)]),
        E("isFullSync", [], ["true"])]))
    objects = response.child(NS_SYNC, op + "Result").child(NS_OBJ, "ResultObjects").elements()
    found = {}
    for obj in objects:
        values = {}
        for entry in obj.child(NS_OBJ, "PropertyValues").elements():
            value = entry.child(NS_ARR, "Value")
            check(value.attr(NS_XSI, "type") is not None, "read-back value has an i:type")
            items = [i.text() for i in value.elements()]
            values[entry.child(NS_ARR, "Key").text()] = items if items else value.text()
        found[values.get("SourceAnchor")] = (obj.child(NS_OBJ, "SyncObjectType").text(), values)
    check(found.get(user_anchor, ("", {}))[0] == "User", "user read back")
    check(found[user_anchor][1].get("UserPrincipalName") == upn, "user's UPN read back")
    check(found.get(group_anchor, ("", {}))[0] == "Group", "group read back")
    check(found[group_anchor][1].get("Member") == [user_anchor], "group's member read back")

    quoted = urllib.parse.quote(group_anchor, safe="")
    status, group = admin(base, "GET", "/admin/objects/" + quoted)
    check(status == 200 and group["members"] == [user_anchor], "admin API shows the membership")
    status, right = admin(base, "POST", "/admin/verify-password", {"sourceAnchor": user_anchor, "password": password})
    check(status == 200 and right.get("valid") is True, "sign-in with the right password succeeds")
    status, wrong = admin(base, "POST", "/admin/verify-password", {"sourceAnchor": user_anchor, "password": password + "x"})
    check(status == 200 and wrong.get("valid") is False, "sign-in with a wrong password fails")
    status, by_upn = admin(base, "POST", "/admin/verify-password", {"userPrincipalName": upn.upper(), "password": password})
    check(status == 200 and by_upn.get("valid") is True, "sign-in by UPN succeeds")
    return 0


if __name__ == "__main__":
    try:
        code = main()
    except Failed as failure:
        print("independent client: FAILED: %s" % failure, file=sys.stderr)
        print("%d passed, 1 failed" % len(CHECKS))
        sys.exit(1)
    print("%d passed, 0 failed" % len(CHECKS))
    sys.exit(code)
