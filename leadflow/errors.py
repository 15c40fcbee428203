"""The one root of the errors a `leadflow` command reports to its user, each with its exit code.

Why: commands fail for a few reasons a user (or a supervisor, or Kubernetes) must tell apart
by the exit code alone: a bad setting or file (2: fix the configuration, restarting will not
help), a part of the stack that could not start (1: maybe transient). Every such error
derives from :class:`LeadflowError`; the CLI prints its one-line message and exits with its
``exit_code``, in one place (``leadflow.cli.main``).
"""

from __future__ import annotations


class LeadflowError(Exception):
    """An error meant for the user: the message is one line, ``exit_code`` what the process exits with."""

    exit_code = 1


class UsageError(LeadflowError):
    """The configuration or an input file is wrong: exit code 2, restarting will not help."""

    exit_code = 2
