_base_ = './slim_stock.py'
model = dict(
    rpn_head=_base_.rpn_size_weighted, roi_head=_base_.roi_size_weighted)
