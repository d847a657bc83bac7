"""llasa.verifiers"""
