"""Reports: the status table now; figures and the HTML report later."""
