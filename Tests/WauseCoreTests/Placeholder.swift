import WauseCore
