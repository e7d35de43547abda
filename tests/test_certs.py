"""Certificates and node keys: the server certificate chains to the CA for the named hosts; an
unregistered SuperNode is refused by a real SuperLink with authentication on."""
from __future__ import annotations

import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fedcost.engines.certs import init_certs, node_keys
from fedcost.errors import UsageError


def test_server_certificate_chains_to_the_ca_for_its_hosts(tmp_path):
    files = init_certs(tmp_path, ["127.0.0.1", "coordinator.example.org"])
    ca = x509.load_pem_x509_certificate(files["ca"].read_bytes())
    cert = x509.load_pem_x509_certificate(files["cert"].read_bytes())
    cert.verify_directly_issued_by(ca)  # raises if the signature or issuer do not match
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(i) for i in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert sans.get_values_for_type(x509.DNSName) == ["coordinator.example.org"]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert oct(files["key"].stat().st_mode & 0o777) == "0o600" and oct(files["ca_key"].stat().st_mode & 0o777) == "0o600"
    with pytest.raises(UsageError, match="--force"):
        init_certs(tmp_path, ["127.0.0.1"])


def test_node_keys_are_openssh_ec_keys(tmp_path):
    private, public = node_keys(tmp_path, "H01")
    key = serialization.load_ssh_private_key(private.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert public.read_text().startswith("ecdsa-sha2-nistp384 ")
    assert oct(private.stat().st_mode & 0o777) == "0o600"


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_an_unregistered_hospital_is_refused(tmp_path):
    """A SuperLink with TLS and SuperNode authentication (as the engine starts it) refuses a node whose key
    nobody registered: Flower's ApiError 2004, and the node never becomes active."""
    from fedcost.engines.processes import ProcessGroup, flower_env, flower_exe, free_ports

    files = init_certs(tmp_path / "tls", ["127.0.0.1"])
    private, _ = node_keys(tmp_path / "tls", "H99")
    link_port, node_port = free_ports(2)
    (tmp_path / "logs").mkdir()
    procs = ProcessGroup(tmp_path / "logs")
    try:
        procs.start("superlink", [flower_exe("flower-superlink"), "--ssl-ca-certfile", str(files["ca"]),
                                  "--ssl-certfile", str(files["cert"]), "--ssl-keyfile", str(files["key"]),
                                  "--enable-supernode-auth", "--host", "127.0.0.1", "--port", str(link_port),
                                  "--disable-runtime-dependency-installation"], flower_env(tmp_path / "home"))
        procs.start("supernode-H99", [flower_exe("flower-supernode"), "--root-certificates", str(files["ca"]),
                                      "--auth-supernode-private-key", str(private), "--superlink",
                                      f"127.0.0.1:{link_port}", "--host", "127.0.0.1", "--port", str(node_port)],
                    flower_env(tmp_path / "node"))
        log = tmp_path / "logs" / "superlink.log"
        deadline = time.monotonic() + 120
        while "ApiError:2004" not in log.read_text(errors="replace") and time.monotonic() < deadline:
            time.sleep(0.5)
        text = log.read_text(errors="replace")
        assert "ApiError:2004" in text and "No SuperNode found with the given public key" in text
        assert "Activated node_id" not in text
    finally:
        procs.teardown()
    assert procs.alive() == []


def test_cli_init_and_node_key(tmp_path):
    import subprocess
    import sys

    run = lambda *a: subprocess.run([sys.executable, "-m", "fedcost.cli", "certs", *a], capture_output=True, text=True)
    ok = run("init", "--out", str(tmp_path / "c"), "--host", "127.0.0.1", "--host", "coord.local")
    assert ok.returncode == 0 and (tmp_path / "c" / "server.crt").is_file() and "coord.local" in ok.stdout
    again = run("init", "--out", str(tmp_path / "c"), "--host", "127.0.0.1")
    assert again.returncode == 2 and "--force" in again.stderr and "Traceback" not in again.stderr
    key = run("node-key", "--out", str(tmp_path / "k"), "--name", "H01")
    assert key.returncode == 0 and (tmp_path / "k" / "H01.pub").read_text().startswith("ecdsa-sha2-nistp384")
    bad = run("node-key", "--out", str(tmp_path / "k"), "--name", "../H01")
    assert bad.returncode == 2 and "use letters" in bad.stderr
