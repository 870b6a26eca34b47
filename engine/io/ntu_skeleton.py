"""(being written)"""


def write_ntu_skeleton(*args, **kwargs):
    raise NotImplementedError
