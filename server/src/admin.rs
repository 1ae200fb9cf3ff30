//! Administration from the command line: users, tokens, databases, backup and restore.
