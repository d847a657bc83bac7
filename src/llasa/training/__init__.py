"""llasa.training"""
