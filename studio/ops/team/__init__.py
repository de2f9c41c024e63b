"""Several annotators on one project: assignment, agreement between their versions, adjudication."""
