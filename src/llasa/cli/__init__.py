"""llasa.cli"""
