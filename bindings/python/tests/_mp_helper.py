"""Run in a spawned child process by test_exceptions_from_a_child_process."""
import cxoauth


def raise_auth_error():
    raise cxoauth.AuthError(6, "authentication rejected", 401, "invalid_client", "corr-mp")
