# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""The attributes every module of the collection shares: full check mode
and diff mode, on POSIX hosts. Listed before
ansible.builtin.action_common_attributes, which describes each attribute;
a module states only where it differs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    support: full
    platforms: posix
"""
