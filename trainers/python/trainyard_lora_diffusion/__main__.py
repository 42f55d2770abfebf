from trainyard_common import protocol as tp

from . import train

tp.main_guard(train.main)
