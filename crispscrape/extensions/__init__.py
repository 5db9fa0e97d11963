"""Extensions Scrapy du projet."""
