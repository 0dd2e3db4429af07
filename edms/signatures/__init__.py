"""Electronic signatures that are real cryptographic signatures (21 CFR Part 11, ER/ES, EU Annex 11 §14).

What an account change implies for the signing key (re-wrapped on a password change, revoked on a reset
or a deactivation) is composed by the account use cases (edms.application.accounts and .access), so that
edms.users never imports signatures and nothing is wired by importing a package.
"""
