"""The synthetic market behind `lakeqa generate`: symbols, the market model and the injected faults."""
