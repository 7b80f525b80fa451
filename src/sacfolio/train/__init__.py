"""sacfolio.train"""
