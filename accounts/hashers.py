"""A fast hasher for long random machine secrets (OAuth client secrets).

Password hashers are slow on purpose, to resist guessing low-entropy human passwords. A secret of
48 random bytes cannot be guessed, so one salted SHA-256 is enough and keeps each check in
microseconds instead of hundreds of milliseconds. Never use this for user passwords.
"""

import hashlib
import secrets

from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare


class RandomSecretHasher(BasePasswordHasher):
    algorithm = "portal_secret_sha256"

    def salt(self):
        return secrets.token_hex(8)

    def encode(self, password, salt):
        self._check_encode_args(password, salt)
        digest = hashlib.sha256((salt + password).encode()).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded):
        algorithm, salt, digest = encoded.split("$", 2)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def verify(self, password, encoded):
        decoded = self.decode(encoded)
        return constant_time_compare(encoded, self.encode(password, decoded["salt"]))

    def safe_summary(self, encoded):
        decoded = self.decode(encoded)
        return {
            "algorithm": decoded["algorithm"],
            "salt": mask_hash(decoded["salt"]),
            "hash": mask_hash(decoded["hash"]),
        }

    def harden_runtime(self, password, encoded):
        pass

    def must_update(self, encoded):
        return False
