# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""The options naming the app's uv and env file, which the modules that
read the host (probe, maintenance) take alike."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  uv_path:
    description:
      - The uv the cron entries run. Empty to take the first executable file among O(uv_candidates),
        in order, as the app's installer does.
    type: str
    default: ''
  uv_candidates:
    description:
      - Where to look for uv when O(uv_path) is empty, in order; a leading C(~/) means the app user's
        home. With none found, the first is reported, absent.
    type: list
    elements: str
    default: []
  env_file:
    description: The app's env file.
    type: path
    default: ''
"""
