"""The books-vs-source oracle of issue 14: Stripe histories, their JSON, and the checks."""
