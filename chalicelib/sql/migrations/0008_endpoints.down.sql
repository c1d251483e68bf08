DROP TABLE endpoint_rates;
DROP TABLE endpoints;
