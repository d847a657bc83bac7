"""llasa.tts"""
