"""办事项目公开: each department's services (事项), imported from CSV or XLSX and published."""
