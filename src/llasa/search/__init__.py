"""llasa.search"""
