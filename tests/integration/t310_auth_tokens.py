"""t310_auth_tokens.py - the access token verifier under attack (issue 9).

The server signs with a key the test knows (ORDERLY_JWT_KEY), so the test
can forge every malformed, tampered, confused or stale token of the
table below.  Each one, sent to a route that would change something, must
be answered 401 problem+json with WWW-Authenticate: Bearer
error="invalid_token", and nothing may change."""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import time

from harness import Server, check, eq, ok, run, PG

KEY = bytes(range(32)) + b"orderly-test-key"                 # 48 bytes
OLD = hashlib.sha256(b"the previous key").digest()
OTHER = hashlib.sha256(b"some other key").digest()
ENVV = {"ORDERLY_JWT_KEY": KEY.hex(), "ORDERLY_JWT_PREVIOUS_KEY": OLD.hex()}


def kid(key):
    return hashlib.sha256(key).hexdigest()[:16]


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def header(key=KEY, **over):
    h = {"alg": "HS256", "kid": kid(key), "typ": "JWT"}
    h.update(over)
    return json.dumps({k: v for k, v in h.items() if v is not None}, separators=(",", ":"))


def claims(sub="1", **over):
    now = int(time.time())
    c = {"iss": "orderly", "aud": "orderly-api", "sub": sub, "iat": now, "nbf": now, "exp": now + 600}
    c.update(over)
    return json.dumps({k: v for k, v in c.items() if v is not None}, separators=(",", ":"))


def sign(head, body, key=KEY, sig=None, enc=b64):
    signing = enc(head.encode()) + "." + enc(body.encode())
    mac = hmac.new(key, signing.encode(), hashlib.sha256).digest()
    return signing + "." + (sig if sig is not None else enc(mac))


def std_b64(data):
    return base64.b64encode(data).decode()


def flip(s, i):
    c = s[i]
    return s[:i] + ("A" if c != "A" else "B") + s[i + 1:]


srv = None


def attacks(uid, disabled_uid, deleted_uid):
    good = sign(header(), claims(str(uid)))
    h, p, sg = good.split(".")
    now = int(time.time())
    t = {}
    for alg in ("none", "None", "NONE", "nOnE"):
        t["alg %s, no signature" % alg] = b64(header(alg=alg).encode()) + "." + p + "."
        t["alg %s, signed" % alg] = sign(header(alg=alg), claims(str(uid)))
    for alg in ("HS384", "HS512", "RS256", "ES256", "PS256", "hs256"):
        t["alg %s" % alg] = sign(header(alg=alg), claims(str(uid)))
    t["alg missing"] = sign(header(alg=None), claims(str(uid)))
    t["typ JWS"] = sign(header(typ="JWS"), claims(str(uid)))
    t["typ jwt lowercase"] = sign(header(typ="jwt"), claims(str(uid)))
    t["typ missing"] = sign(header(typ=None), claims(str(uid)))
    t["kid missing"] = sign(header(kid=None), claims(str(uid)))
    t["kid unknown"] = sign(header(kid="0123456789abcdef"), claims(str(uid)))
    t["header keys reordered"] = sign('{"typ":"JWT","alg":"HS256","kid":"%s"}' % kid(KEY), claims(str(uid)))
    t["header with spaces"] = sign('{"alg": "HS256", "kid": "%s", "typ": "JWT"}' % kid(KEY), claims(str(uid)))
    t["duplicate key in header"] = sign('{"alg":"HS256","alg":"none","kid":"%s","typ":"JWT"}' % kid(KEY),
                                        claims(str(uid)))
    t["jku in header"] = sign(header(jku="http://evil/keys"), claims(str(uid)))
    t["tampered header"] = flip(h, 5) + "." + p + "." + sg
    t["tampered payload"] = h + "." + flip(p, 10) + "." + sg
    t["payload swapped for admin's"] = h + "." + b64(claims("1").encode()) + "." + sg if uid != 1 else \
        h + "." + b64(claims("2").encode()) + "." + sg
    t["tampered signature"] = h + "." + p + "." + flip(sg, 3)
    t["signature truncated"] = h + "." + p + "." + sg[:-1]
    t["signature empty"] = h + "." + p + "."
    t["signature with padding"] = h + "." + p + "." + sg + "="
    t["signature standard alphabet"] = sign(header(), claims(str(uid)),
                                            sig=std_b64(hmac.new(KEY, (h + "." + p).encode(),
                                                                 hashlib.sha256).digest()))
    t["signature non-canonical last character"] = h + "." + p + "." + sg[:-1] + chr(ord(sg[-1]) + 1) \
        if sg[-1] not in "9_-zZ" else h + "." + p + "." + sg[:-1] + "B"
    t["payload with padding"] = sign(header(), claims(str(uid)) + " ", enc=lambda d: b64(d) + "=")
    t["payload standard alphabet"] = sign(header(), '{"x":"??>>??>>"}' + claims(str(uid))[0:0],
                                          enc=lambda d: base64.b64encode(d).decode())
    t["whitespace inside"] = h + ". " + p + "." + sg
    t["tab inside"] = h + "." + p[:5] + "\t" + p[5:] + "." + sg
    t["duplicate key in payload"] = sign(header(), claims(str(uid))[:-1] + ',"sub":"1"}')
    t["expired"] = sign(header(), claims(str(uid), iat=now - 3600, nbf=now - 3600, exp=now - 61))
    t["exp missing"] = sign(header(), claims(str(uid), exp=None))
    t["exp a string"] = sign(header(), claims(str(uid), exp=str(now + 600)))
    t["exp a float"] = sign(header(), claims(str(uid), exp=now + 600.5))
    t["iat missing"] = sign(header(), claims(str(uid), iat=None))
    t["nbf in the future"] = sign(header(), claims(str(uid), nbf=now + 3600))
    t["iat in the future"] = sign(header(), claims(str(uid), iat=now + 3600))
    t["wrong iss"] = sign(header(), claims(str(uid), iss="someone-else"))
    t["iss missing"] = sign(header(), claims(str(uid), iss=None))
    t["wrong aud"] = sign(header(), claims(str(uid), aud="other-api"))
    t["aud an array"] = sign(header(), claims(str(uid), aud=["orderly-api"]))
    t["sub missing"] = sign(header(), claims(None))
    t["sub not a user"] = sign(header(), claims("root"))
    t["role claim injected"] = sign(header(), claims(str(uid))[:-1] + ',"role":"admin"}')
    t["signed with another key"] = sign(header(), claims(str(uid)), key=OTHER)
    t["another key under its own kid"] = sign(header(key=OTHER), claims(str(uid)), key=OTHER)
    t["a disabled user's token"] = sign(header(), claims(str(disabled_uid)))
    t["a deleted user's token"] = sign(header(), claims(str(deleted_uid)))
    t["oversized"] = sign(header(), claims(str(uid), jti="x" * 1200))
    t["two parts"] = h + "." + p
    t["four parts"] = good + ".x"
    t["empty"] = ""
    t["not base64 at all"] = "!!!.???.***"
    t["an API key that does not exist"] = "oak_" + b64(os.urandom(32))
    return good, t


def products():
    return [p["sku"] for p in ok(srv, "GET", "/api/products")["products"]]


def test_forged_and_broken_tokens_are_refused():
    global srv
    srv = Server(env="jwt", config={"builtinTopology": False}, env_vars=ENVV).start()
    try:
        user = lambda name, role="viewer": ok(srv, "POST", "/api/users", {"username": name, "password":
                                               "long enough password " + name, "role": role}, 201)["id"]
        uid = user("alice", "admin")
        disabled, deleted = user("dis"), user("del")
        ok(srv, "PATCH", "/api/users/%d" % disabled, {"status": "disabled"})
        ok(srv, "DELETE", "/api/users/%d" % deleted, want=204)
        good, table = attacks(uid, disabled, deleted)
        check(len(table) >= 40, "at least 40 attacks: %d" % len(table))
        # the well-formed token works: the table is not refused for some other reason
        st, _, b = srv.request("POST", "/api/products", {"sku": "GOOD", "name": "g", "priceCents": 1, "stock": 1},
                               headers={"Authorization": "Bearer " + good})
        eq(st, 201, "a valid token of alice creates a product (%r)" % b)
        before = products()
        for name, tok in table.items():
            st, h, b = srv.request("POST", "/api/products", {"sku": "EVIL", "name": "e", "priceCents": 1,
                                                             "stock": 1},
                                   headers={"Authorization": "Bearer " + tok})
            eq(st, 401, "%s: status (body %r)" % (name, b))
            check(h.get("content-type", "").startswith("application/problem+json"), "%s: problem+json" % name)
            www = h.get("www-authenticate", "")
            check(www.startswith("Bearer ") and 'error="invalid_token"' in www, "%s: WWW-Authenticate %r" % (name, www))
            eq(b["status"], 401, name + ": problem status")
        eq(products(), before, "nothing changed")
        print("%d forged or broken tokens: every one 401 invalid_token, nothing changed" % len(table))
    finally:
        eq(srv.stop(), 0, "exit code")


def test_key_rotation_and_a_removed_previous_key():
    s = Server(env="rot", config={"builtinTopology": False}, env_vars={"ORDERLY_JWT_KEY": OLD.hex()}).start()
    try:
        old_token = s.token()
        eq(ok(s, "GET", "/api/me", headers={"Authorization": "Bearer " + old_token})["username"], "admin", "old key")
        s.kill9()
        s.env_vars = dict(ENVV)          # the new key signs; the old one is the previous key
        s._token = None
        s.start()
        eq(ok(s, "GET", "/api/me", headers={"Authorization": "Bearer " + old_token})["username"], "admin",
           "a token of the previous key verifies until it expires")
        new_token = s.token(refresh=True)
        check(new_token.split(".")[0] != old_token.split(".")[0], "new tokens carry the new kid")
        s.kill9()
        s.env_vars = {"ORDERLY_JWT_KEY": KEY.hex()}   # the previous key removed
        s.start()
        st, h, _ = s.request("GET", "/api/me", headers={"Authorization": "Bearer " + old_token})
        eq(st, 401, "a token of a removed key")
        check('error="invalid_token"' in h.get("www-authenticate", ""), "invalid_token")
        eq(s.request("GET", "/api/me", headers={"Authorization": "Bearer " + new_token})[0], 200, "the new key's")
    finally:
        s.stop()


def test_a_short_key_refuses_to_start():
    s = Server(env="short", config={"builtinTopology": False}, env_vars={"ORDERLY_JWT_KEY": os.urandom(31).hex()})
    s.start(wait=False)
    rc = s.proc.wait(timeout=15)
    eq(rc != 0, True, "exit code of a server with a 31-byte key")
    check("needs 32 to 64 random bytes" in s.log_tail(), "says why: %s" % s.log_tail())


def test_a_generated_key_is_private():
    # a key generated beside the database is SQLite's (one node): on SQLite
    # whatever ORDERLY_TEST_DB says; nodes on PostgreSQL are given one (below)
    s = Server(env="gen", config={"builtinTopology": False}, sqlite=True).start()
    try:
        path = os.path.join(s.data_dir, "gen.jwt-key")
        eq(oct(os.stat(path).st_mode & 0o777), "0o600", "key file mode")
        eq(len(bytes.fromhex(open(path).read().strip())), 32, "32 random bytes")
    finally:
        s.stop()


if PG:
    def test_nodes_on_postgres_need_a_given_key():
        """Several nodes sign with one key: on PostgreSQL a node without
        auth.keyFile or ORDERLY_JWT_KEY refuses to start and says why."""
        s = Server(env="nokey", config={"builtinTopology": False}, env_vars={"ORDERLY_JWT_KEY": ""})
        p = subprocess.run(s.args(), env=s.process_env(), capture_output=True, text=True, timeout=60)
        eq(p.returncode, 2, "exit code (stderr %r)" % p.stderr[-300:])
        check("the nodes sharing a PostgreSQL database must sign with the same key" in p.stderr,
              "says why: %r" % p.stderr[-300:])


run(globals())
